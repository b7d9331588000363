"""Config errors: one line per problem, naming the field (`dedup.semantic.min_cosine: ...`).

Every pydantic-validated file (run configs, fine-tune configs, merge recipes, verdict files)
turns a `ValidationError` into these lines with `error_lines`, so they all read alike.
"""

from __future__ import annotations

from pydantic import ValidationError


class ConfigError(ValueError):
    """A config that cannot be used; `lines` holds one message per problem."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("; ".join(lines))


def error_lines(error: ValidationError) -> list[str]:
    """One `field.path: message` line per validation error."""
    lines = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"{where}: {item['msg'].removeprefix('Value error, ')}")
    return lines
