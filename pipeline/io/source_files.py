"""Which files a local source names: glob expansion, de-duplication and the run marker.

- A glob is expanded once per real file (symlinks resolved, duplicates dropped, a
  symlinked folder that leads back into the walk is not entered again).
- Files under a folder that holds a run marker (`RUN_MARKER`, written by every run into
  its run directory) are skipped when the glob reached into that folder, so a run's own
  outputs are never read back as input. A path named without wildcards is always read.
- A file's format comes from the source's `format`, or else from its suffix.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path

from pipeline.config.run_config import ConfigError, LocalSpec, expand_env
from pipeline.io.raw_rows import SourceReadError

# Written into every run directory (and state folder) when a run starts. It lists the entries of
# that folder the run writes, one per line ('#' starts a comment); a glob never reads them. A marker
# that lists nothing marks the whole folder.
RUN_MARKER = ".curate-run"


def write_run_marker(folder: Path, entries: list[str]) -> Path:
    """Mark `folder`'s `entries` (or the whole folder, for none) as a run's outputs, never inputs.
    Entries already listed by an earlier marker are kept; unchanged content is not rewritten."""
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / RUN_MARKER
    names = sorted(set(entries) | (_marked_entries(folder) or set()))
    text = "# curate: a run's outputs; globs in a source never read these\n" + "".join(f"{n}\n" for n in names)
    if not marker.is_file() or marker.read_text(encoding="utf-8", errors="replace") != text:
        marker.write_text(text, encoding="utf-8")
    return marker


def _marked_entries(folder: Path) -> set[str] | None:
    """The entries a run marker in `folder` lists (empty: the whole folder), None without a marker."""
    try:
        text = (folder / RUN_MARKER).read_text(encoding="utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError:
        return set()
    return {line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")}


_FORMATS = {
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
}


def local_files(spec: LocalSpec, base_dir: Path) -> list[Path]:
    """The files a local spec names, sorted, each real file once.

    Wildcards are expanded with `glob` rules (`*` does not match a leading dot; `**` spans
    folders); `**` is walked here rather than by `glob`, so that a symlinked folder that
    leads back into the walk is entered once, not until the path length runs out. Files
    reached by a wildcard inside a folder that holds `RUN_MARKER` (a run directory) are not
    inputs and are skipped."""
    try:
        pattern = expand_env(spec.path)
    except ConfigError as exc:
        raise SourceReadError(exc.lines[0]) from None
    if not Path(pattern).is_absolute():
        pattern = str(base_dir / pattern)
    if not glob.has_magic(pattern):
        files = [Path(pattern)] if Path(pattern).is_file() else []
    else:
        root = _literal_root(pattern)
        found = _walk_glob(pattern, root) if "**" in pattern else glob.glob(pattern)
        files = [Path(p) for p in found if Path(p).is_file() and not _under_run_dir(Path(p), root)]
    files = _unique_real(files)
    if not files:
        raise SourceReadError(f"no file matches {spec.path!r} (looked for {pattern})")
    return files


def folder_a_glob_reads(spec: LocalSpec, base_dir: Path) -> Path | None:
    """The folder a wildcard source reads from (the part of its path before the first wildcard);
    None for a path without wildcards, which names its files exactly."""
    try:
        pattern = expand_env(spec.path)
    except ConfigError:
        return None
    if not Path(pattern).is_absolute():
        pattern = str(base_dir / pattern)
    return _literal_root(pattern).resolve() if glob.has_magic(pattern) else None


def _literal_root(pattern: str) -> Path:
    """The folder above the first path segment with a wildcard."""
    parts = Path(pattern).parts
    literal = [p for p in parts[: next(i for i, p in enumerate(parts) if glob.has_magic(p))]]
    return Path(*literal) if literal else Path(".")


def _walk_glob(pattern: str, root: Path) -> list[str]:
    """A recursive glob that enters each real folder once (symlink loops end there)."""
    segments = Path(pattern).parts[len(root.parts) :]
    hidden_ok = any(seg.startswith(".") for seg in segments)
    seen: set[str] = set()
    found: list[str] = []
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        marked = _marked_entries(Path(folder))
        if real in seen or marked == set():
            dirs[:] = []  # a folder reached again through a symlink, or a whole folder of a run's outputs
            continue
        seen.add(real)
        dirs[:] = sorted(  # real folders first, so a file is named by its path without symlinks
            (
                d
                for d in dirs
                if (hidden_ok or not d.startswith("."))
                and d not in (marked or ())
                and os.path.realpath(os.path.join(folder, d)) not in seen
            ),
            key=lambda d: (os.path.islink(os.path.join(folder, d)), d),
        )
        rel = Path(folder).relative_to(root).parts
        for name in names:
            if _match_segments((*rel, name), segments):
                found.append(os.path.join(folder, name))
    return found


def _match_segments(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """glob's matching of path segments: `**` is zero or more folders, hidden names need a leading dot."""
    if not pattern:
        return not path
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        for skip in range(len(path) + 1):
            if skip and path[skip - 1].startswith("."):
                break  # `**` does not descend into hidden folders, as in glob
            if _match_segments(path[skip:], rest):
                return True
        return False
    if not path:
        return False
    name = path[0]
    if name.startswith(".") and not head.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, head) and _match_segments(path[1:], rest)


def _under_run_dir(path: Path, root: Path) -> bool:
    """Whether the file is one of a run's outputs: below a folder between the glob's literal root
    (included) and the file whose run marker lists the entry the file is in (or lists nothing)."""
    folder = path.parent
    root_parts = len(root.parts)
    while len(folder.parts) >= root_parts:
        marked = _marked_entries(folder)
        if marked is not None and (not marked or path.relative_to(folder).parts[0] in marked):
            return True
        if folder == folder.parent:
            break
        folder = folder.parent
    return False


def _unique_real(files: list[Path]) -> list[Path]:
    """Sorted, one path per real file: the shortest path that reaches it (ties: the first in order)."""
    best: dict[str, Path] = {}
    for path in sorted(files, key=lambda p: (len(p.parts), str(p))):
        best.setdefault(os.path.realpath(path), path)
    return sorted(best.values())


def file_format(path: Path, declared: str | None) -> str:
    fmt = declared or _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SourceReadError(f"{path}: unknown file type {path.suffix!r}; set `format` in the source's local spec")
    return fmt
