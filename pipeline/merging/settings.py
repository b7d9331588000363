"""Merge parameters as mergekit writes them: a value, a gradient over the layers, or filtered values.

A setting is one of
- a scalar (`t = 0.5`, `normalize = true`);
- a gradient: a list of numbers spread evenly over the layers of an output slice and
  linearly interpolated at a layer's position in it (`t = [0, 0.5, 1]`: 0 at the slice's
  first layer, 1 at its last);
- a list of `{filter, value}` entries: the first whose `filter` occurs in the tensor's name
  (no filter, or "*", matches every tensor) gives the value, itself a scalar or a gradient;
  when none matches, the next scope down is asked (a model's own settings, then its
  slice's, then the recipe's), and then the method's default.

This is mergekit 0.1.5's reading (`mergekit/config.py`, `evaluate_setting`): the position is
layer / (layers in the slice - 1) (a one-layer slice sits at 1), and **tensors outside the
layers (embeddings, final norm, head) sit at position 0**, so a gradient gives them its
first value, before and after the layers alike. A list of booleans or strings is not
interpolated: it picks the entry at int(position * (n - 1)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Conditional(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: bool | int | float | str | list[bool | int | float | str]
    filter: str | None = None


Scalar = bool | int | float | str
Setting = Scalar | list[Scalar] | Conditional | list[Conditional]


@dataclass(frozen=True)
class Parameter:
    """One parameter of a merge method: where it is bound, its type and default (`required`: none)."""

    name: str
    kind: type
    scope: Literal["shared", "input", "non_base"] = "shared"
    default: Any = None
    required: bool = False
    choices: tuple[str, ...] = ()  # for a str parameter
    ours: bool = False  # our own option: mergekit has no such parameter

    def check(self, value: Any) -> Any:
        if self.choices:
            if value in self.choices:
                return value
            raise ValueError(f"{self.name}: expected one of {', '.join(self.choices)}, got {value!r}")
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            raise ValueError(f"{self.name}: expected true or false, got {value!r}")
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                raise ValueError(f"{self.name}: expected a number, got {value!r}")
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{self.name}: expected a number, got {value!r}") from None
        return value


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (bool, int, float, str))


def evaluate(setting: Any, tensor_name: str, position: float, parameter: Parameter) -> Any:
    """The value of `setting` for one tensor at `position` in [0, 1], or None where no filter matched."""
    if isinstance(setting, Conditional):
        setting = [setting]
    if isinstance(setting, dict):  # an unvalidated {filter, value}
        setting = [Conditional.model_validate(setting)]
    if _is_scalar(setting):
        return parameter.check(setting)
    if not isinstance(setting, list) or not setting:
        return None
    if all(_is_scalar(v) for v in setting):
        values = [parameter.check(v) for v in setting]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return values[int(position * (len(values) - 1))]
        scaled = position * (len(values) - 1)
        low = int(scaled)
        high = min(len(values) - 1, low + 1)
        frac = scaled - low
        return parameter.check((1 - frac) * values[low] + frac * values[high])
    for entry in setting:
        entry = entry if isinstance(entry, Conditional) else Conditional.model_validate(entry)
        if entry.filter is None or entry.filter == "*" or (tensor_name and entry.filter in tensor_name):
            return evaluate(entry.value, tensor_name, position, parameter)
    return None


def check_setting(setting: Any, parameter: Parameter) -> None:
    """Raise ValueError where a value in `setting` (scalar, gradient or filtered) does not fit `parameter`."""
    if isinstance(setting, Conditional):
        setting = [setting]
    if isinstance(setting, dict):
        setting = [Conditional.model_validate(setting)]
    if isinstance(setting, list):
        for entry in setting:
            if isinstance(entry, (Conditional, dict)):
                entry = entry if isinstance(entry, Conditional) else Conditional.model_validate(entry)
                check_setting(entry.value, parameter)
            else:
                parameter.check(entry)
    else:
        parameter.check(setting)


def resolve(parameter: Parameter, scopes: list[dict | None], tensor_name: str, position: float) -> Any:
    """The first scope (highest precedence first) whose setting gives a value; else the default."""
    for scope in scopes:
        if scope and parameter.name in scope:
            value = evaluate(scope[parameter.name], tensor_name, position, parameter)
            if value is not None:
                return value
    if parameter.required:
        raise ValueError(f"parameter {parameter.name!r} is required for {tensor_name}")
    return parameter.default


def modules_to_filters(t: Any, t_modules: dict[str, Any]) -> Any:
    """Our shorthand `t_modules = {self_attn = [...], mlp = [...]}` plus `t` as mergekit's filter list."""
    if not t_modules:
        return t
    entries = [{"filter": name, "value": value} for name, value in t_modules.items()]
    if t is not None:
        entries.append({"value": t})
    return entries
