"""JSON Lines and JSON files read row by row, so that a bad row is a row, not a crash.

JSON and JSONL are parsed per row, because one bad line makes a whole-file reader reject
the file.

- JSONL: a line that fails to parse (bad syntax, an integer over Python's int-str digit
  limit, nesting too deep for the parser) comes back as that line with its reason.
- JSON: a UTF-8 BOM is accepted. When the whole file parses as JSON except for values
  Python cannot build (a huge integer, a too-deep element), the array is split into its
  elements by structure and each element is parsed alone, so only those elements come
  back as errors ("element N"). A file whose structure is broken fails as one line.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipeline.io.raw_rows import RawRow, SourceReadError


def read_jsonl(path: Path, fmt: str) -> Iterator[RawRow]:
    """One row per non-blank line; a line that cannot be parsed is a row with its reason."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number == 1:
                line = line.removeprefix(codecs.BOM_UTF8)
            if not line.strip():
                continue  # blank lines carry no row
            where = f"line {number}"
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield RawRow(
                    str(path),
                    where,
                    None,
                    f"undecodable bytes (not UTF-8 at byte {exc.start})",
                    line[:500].decode("utf-8", "replace"),
                )
                continue
            try:
                data = json.loads(text)
            except (ValueError, RecursionError) as exc:
                yield RawRow(str(path), where, None, _parse_problem(exc), text[:500])
                continue
            yield _as_object(path, where, data, text)


def _parse_problem(exc: BaseException) -> str:
    """Why json.loads could not build a value, in one line."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} at column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "invalid JSON: nested too deeply to parse"
    message = str(exc)
    if "integer string conversion" in message:
        digits = re.search(r"value has (\d+) digits", message)
        found = f" ({digits.group(1)} digits)" if digits else ""
        return f"invalid JSON: integer longer than {sys.get_int_max_str_digits()} digits{found}"
    return f"invalid JSON: {message.splitlines()[0] if message else type(exc).__name__}"


def read_json(path: Path, fmt: str) -> Iterator[RawRow]:
    """One row per element of the file's array (or of the one array in a wrapper object)."""
    try:
        text = path.read_bytes().removeprefix(codecs.BOM_UTF8).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceReadError(
            f"{path}: not UTF-8 (byte {exc.start}); a JSON array cannot be read row by row"
        ) from None
    except OSError as exc:
        raise SourceReadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceReadError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError):
        # Valid structure, but a value Python cannot build (a huge integer, a too-deep element):
        # split the array by structure and parse each element alone.
        yield from _read_json_elements(path, text)
        return
    if isinstance(data, dict):  # {"data": [...]} and similar wrappers with a single list
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) != 1:
            raise SourceReadError(f"{path}: expected a JSON array of objects (or an object holding one array)")
        data = lists[0]
    if not isinstance(data, list):
        raise SourceReadError(f"{path}: expected a JSON array of objects, found {type(data).__name__}")
    for index, item in enumerate(data):
        yield _as_object(path, f"element {index}", item, None)


class _BrokenJSON(ValueError):
    pass


_JSON_WS = " \t\n\r"
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_JSON_TOKEN = re.compile(r'"|[\[\]{}]')


def _read_json_elements(path: Path, text: str) -> Iterator[RawRow]:
    try:
        spans = _top_level_array(text)
    except _BrokenJSON as exc:
        raise SourceReadError(f"{path}: invalid JSON: {exc}") from None
    for index, (start, end) in enumerate(spans):
        piece = text[start:end]
        where = f"element {index}"
        try:
            item = json.loads(piece)
        except (ValueError, RecursionError) as exc:
            yield RawRow(str(path), where, None, _parse_problem(exc), piece[:500])
            continue
        yield _as_object(path, where, item, piece)


def _top_level_array(text: str) -> list[tuple[int, int]]:
    """The spans of the elements of the file's array (or of the one array in a wrapper object)."""
    i = _skip_ws(text, 0)
    if text.startswith("[", i):
        spans, end = _array_spans(text, i)
    elif text.startswith("{", i):
        arrays: list[tuple[list[tuple[int, int]], int]] = []
        j = _skip_ws(text, i + 1)
        while not text.startswith("}", j):
            key_end = _value_end(text, j)
            if not text.startswith('"', j):
                raise _BrokenJSON(f"expected a key at character {j}")
            j = _skip_ws(text, key_end)
            if not text.startswith(":", j):
                raise _BrokenJSON(f"expected ':' at character {j}")
            j = _skip_ws(text, j + 1)
            if text.startswith("[", j):
                found = _array_spans(text, j)
                arrays.append(found)
                j = found[1]
            else:
                j = _value_end(text, j)
            j = _skip_ws(text, j)
            if text.startswith(",", j):
                j = _skip_ws(text, j + 1)
            elif not text.startswith("}", j):
                raise _BrokenJSON(f"expected ',' or '}}' at character {j}")
        end = j + 1
        if len(arrays) != 1:
            raise _BrokenJSON("expected a JSON array of objects (or an object holding one array)")
        spans = arrays[0][0]
    else:
        raise _BrokenJSON("expected a JSON array of objects")
    if _skip_ws(text, end) != len(text):
        raise _BrokenJSON(f"extra data at character {_skip_ws(text, end)}")
    return spans


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _JSON_WS:
        i += 1
    return i


def _array_spans(text: str, i: int) -> tuple[list[tuple[int, int]], int]:
    spans: list[tuple[int, int]] = []
    j = _skip_ws(text, i + 1)
    if text.startswith("]", j):
        return spans, j + 1
    while True:
        j = _skip_ws(text, j)
        end = _value_end(text, j)
        spans.append((j, end))
        j = _skip_ws(text, end)
        if text.startswith("]", j):
            return spans, j + 1
        if not text.startswith(",", j):
            raise _BrokenJSON(f"expected ',' or ']' at character {j}")
        j += 1


def _value_end(text: str, i: int) -> int:
    """Where the value starting at `i` ends, by structure only (strings skipped, brackets counted)."""
    if i >= len(text):
        raise _BrokenJSON("unexpected end of file")
    if text[i] == '"':
        match = _JSON_STRING.match(text, i)
        if match is None:
            raise _BrokenJSON(f"unterminated string at character {i}")
        return match.end()
    if text[i] not in "[{":
        j = i
        while j < len(text) and text[j] not in ",]}" + _JSON_WS:
            j += 1
        return j
    depth, j = 0, i
    while True:
        token = _JSON_TOKEN.search(text, j)
        if token is None:
            raise _BrokenJSON(f"unclosed bracket from character {i}")
        if token.group() == '"':
            match = _JSON_STRING.match(text, token.start())
            if match is None:
                raise _BrokenJSON(f"unterminated string at character {token.start()}")
            j = match.end()
            continue
        depth += 1 if token.group() in "[{" else -1
        j = token.end()
        if depth == 0:
            return j


def _as_object(path: Path, where: str, data: Any, text: str | None) -> RawRow:
    if not isinstance(data, dict):
        raw = text if text is not None else json.dumps(data, ensure_ascii=False)
        return RawRow(str(path), where, None, f"row is a JSON {type(data).__name__}, not an object", raw[:500])
    return RawRow(str(path), where, data)
