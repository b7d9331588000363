"""The small template language that maps a source's fields onto instruction/input/output.

A mapping value is either a bare field name (`question`) or a template with `{...}`
placeholders (`{context}\\n\\n{question}\\n\\n{choices.text|lettered}`):

- `{name}` a required field; a missing or null value makes the row malformed.
- `{name?}` an optional field; missing or null renders as "".
- `{a.b}` a nested value: key `b` of mapping `a`, or `b` of every mapping in list `a`.
- `{name|filter|...}` filters, applied left to right:
  `lettered` (list -> "A. x" lines), `paren_lettered` (list -> "(A) x (B) y"),
  `lines` (list -> one per line), `comma` (list -> "x, y"), `strip`, `str`,
  `first_user` / `first_assistant` (a chat's turn list -> the text of its first user / assistant
  turn: ShareGPT `{from, value}` or OpenAI-style `{role, content}`; none is a missing field).
- `{{` and `}}` are literal braces.

Non-string scalars (numbers, booleans) are rendered with `str()`, except where the whole
field is one bare name: then a non-string value is reported, because Platypus-style
sources must carry text in instruction and output.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")
_FILTERS = {"lettered", "paren_lettered", "lines", "comma", "strip", "str", "first_user", "first_assistant"}
# Who speaks a chat turn, by the `from` (ShareGPT) or `role` (OpenAI messages) value.
USER_ROLES = frozenset({"user", "human"})
ASSISTANT_ROLES = frozenset({"assistant", "gpt", "bot", "model", "chatgpt"})


class MissingField(Exception):
    """A required field is absent or null in a row."""


class TemplateError(ValueError):
    """A template that cannot be parsed (reported at config validation)."""


@dataclass(frozen=True)
class Placeholder:
    path: tuple[str, ...]
    optional: bool
    filters: tuple[str, ...]


@dataclass(frozen=True)
class FieldTemplate:
    source: str
    parts: tuple[str | Placeholder, ...]

    @property
    def is_bare(self) -> bool:
        return len(self.parts) == 1 and isinstance(self.parts[0], Placeholder) and not self.parts[0].filters

    def fields(self) -> list[str]:
        return [p.path[0] for p in self.parts if isinstance(p, Placeholder)]

    def render(self, row: dict[str, Any]) -> Any:
        """Render for one row. A bare template returns the raw value (so callers can type-check it)."""
        if self.is_bare:
            return _lookup(row, self.parts[0])
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                out.append(_to_text(_apply(_lookup(row, part), part.filters)))
        return "".join(out)


def parse_template(text: str) -> FieldTemplate:
    if text == "":
        return FieldTemplate(text, ())
    if "{" not in text and "}" not in text:
        return FieldTemplate(text, (Placeholder((text,), False, ()),))
    parts: list[str | Placeholder] = []
    pos = 0
    for match in _PLACEHOLDER.finditer(text):
        literal = text[pos : match.start()]
        if "{" in literal or "}" in literal:
            raise TemplateError(f"unbalanced brace in template {text!r}")
        parts.append(literal)
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(token[0])
        else:
            parts.append(_placeholder(match.group(1), text))
        pos = match.end()
    tail = text[pos:]
    if "{" in tail or "}" in tail:
        raise TemplateError(f"unbalanced brace in template {text!r}")
    parts.append(tail)
    return FieldTemplate(text, tuple(p for p in parts if p != ""))


def _placeholder(body: str, text: str) -> Placeholder:
    name, *filters = [piece.strip() for piece in body.split("|")]
    optional = name.endswith("?")
    name = name.rstrip("?")
    if not name:
        raise TemplateError(f"empty placeholder in template {text!r}")
    unknown = [f for f in filters if f not in _FILTERS]
    if unknown:
        raise TemplateError(
            f"unknown filter {unknown[0]!r} in template {text!r} (known: {', '.join(sorted(_FILTERS))})"
        )
    return Placeholder(tuple(name.split(".")), optional, tuple(filters))


def _lookup(row: dict[str, Any], ph: Placeholder) -> Any:
    value: Any = row
    for key in ph.path:
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list):
            value = [item.get(key) if isinstance(item, dict) else None for item in value]
        else:
            value = None
        if value is None:
            break
    if value is None:
        if ph.optional:
            return ""
        raise MissingField(".".join(ph.path))
    return value


def option_label(index: int) -> str:
    """A, B, ..., Z, AA, AB, ...: spreadsheet-style, so long option lists never run out."""
    label, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = string.ascii_uppercase[rest] + label
    return label


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def first_turn(turns: Any, roles: frozenset[str]) -> str | None:
    """The text of the first turn in `turns` spoken by one of `roles`, or None."""
    for turn in turns if isinstance(turns, (list, tuple)) else []:
        if isinstance(turn, dict):
            role = turn.get("from", turn.get("role"))
            if isinstance(role, str) and role.strip().lower() in roles:
                text = turn.get("value", turn.get("content"))
                return text if isinstance(text, str) else None
    return None


def _apply(value: Any, filters: tuple[str, ...]) -> Any:
    for name in filters:
        if name in ("first_user", "first_assistant"):
            turn = first_turn(value, USER_ROLES if name == "first_user" else ASSISTANT_ROLES)
            if turn is None:
                raise MissingField(f"{name.removeprefix('first_')} turn")
            value = turn
        elif name == "lettered":
            value = "\n".join(f"{option_label(i)}. {_to_text(v)}" for i, v in enumerate(_as_list(value)))
        elif name == "paren_lettered":
            value = " ".join(f"({option_label(i)}) {_to_text(v)}" for i, v in enumerate(_as_list(value)))
        elif name == "lines":
            value = "\n".join(_to_text(v) for v in _as_list(value))
        elif name == "comma":
            value = ", ".join(_to_text(v) for v in _as_list(value))
        elif name == "strip":
            value = _to_text(value).strip()
        elif name == "str":
            value = _to_text(value)
    return value


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "\n".join(_to_text(v) for v in value)
    return str(value)
