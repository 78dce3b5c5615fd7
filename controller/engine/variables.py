"""Variable values: kept JSON-shaped, and trigger inputs checked against declared variables."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Mapping

from jinja2 import Undefined

from controller.manifests.expressions import to_date, to_number
from controller.manifests.models import Flow

MAX_DEPTH = 32


def jsonable(value: Any, depth: int = 0) -> Any:
    """A value as JSON can hold it: dates become ISO text, tuples lists, unknown objects text."""
    if value is None or isinstance(value, Undefined):
        return None
    if isinstance(value, bool) or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    if depth >= MAX_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in value]
    return str(value)


@dataclass(frozen=True)
class Inputs:
    """Trigger inputs sorted out: what the flow takes, what it drops, and what is wrong."""

    accepted: Mapping[str, Any]
    dropped: tuple[str, ...] = ()  # names the flow does not declare
    problems: tuple[str, ...] = ()  # declared inputs of the wrong type (their default is kept)


def trigger_inputs(flow: Flow, given: Mapping[str, Any]) -> Inputs:
    """Keep the declared inputs (converted to their declared type); drop the rest."""
    declared = flow.spec.variables
    accepted: dict[str, Any] = {}
    dropped: list[str] = []
    problems: list[str] = []
    for name, value in given.items():
        variable = declared.get(name)
        if variable is None:
            dropped.append(name)
            continue
        converted, ok = _convert(variable.type, value)
        if ok:
            accepted[name] = converted
        else:
            problems.append(f"input `{name}` should be a {variable.type}, got {value!r}")
    return Inputs(accepted, tuple(sorted(dropped)), tuple(problems))


def initial_vars(flow: Flow, inputs: Inputs) -> dict[str, Any]:
    """Declared defaults, then the accepted inputs on top."""
    values = {name: jsonable(v.default) for name, v in flow.spec.variables.items()}
    values.update(inputs.accepted)
    return {k: v for k, v in values.items() if v is not None}


def _convert(kind: str, value: Any) -> tuple[Any, bool]:
    if value is None:
        return None, True
    if kind == "string":
        if isinstance(value, str):
            return value, True
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value), True  # a phone number or an id sent as a JSON number
        return None, False
    if kind == "number":
        number = to_number(value)
        return number, number is not None
    if kind == "boolean":
        if isinstance(value, bool):
            return value, True
        text = str(value).strip().casefold()
        if text in ("true", "yes", "1"):
            return True, True
        if text in ("false", "no", "0"):
            return False, True
        return None, False
    if kind == "date":
        day = to_date(value)
        return (day.isoformat(), True) if day is not None else (None, False)
    if kind == "list":
        return (jsonable(value), True) if isinstance(value, (list, tuple)) else (None, False)
    if kind == "object":
        return (jsonable(value), True) if isinstance(value, Mapping) else (None, False)
    return jsonable(value), True
