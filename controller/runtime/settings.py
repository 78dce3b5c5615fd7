"""The runtime's settings from the environment, each checked with a message that names it."""

from __future__ import annotations

import datetime as _dt
import os
import re
from typing import Mapping

_DURATION = re.compile(r"^([0-9]+)(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class SettingError(ValueError):
    """An environment setting that does not parse; the message says which and what it takes."""


def _raw(name: str, env: Mapping[str, str] | None) -> str | None:
    value = (os.environ if env is None else env).get(name)
    return value.strip() if value and value.strip() else None


def duration(name: str, default: str, env: Mapping[str, str] | None = None) -> _dt.timedelta:
    text = _raw(name, env) or default
    match = _DURATION.match(text)
    if match is None:
        raise SettingError(f"{name}={text!r} is not a duration such as 30d, 12h, 90m or 45s")
    return _dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def number(name: str, default: float, env: Mapping[str, str] | None = None, *, minimum: float = 0.0) -> float:
    text = _raw(name, env)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{name}={text!r} is not a number") from None
    if not value >= minimum:  # also refuses nan
        raise SettingError(f"{name}={text!r} must be at least {minimum:g}")
    return value


def whole(name: str, default: int, env: Mapping[str, str] | None = None, *, minimum: int = 1) -> int:
    text = _raw(name, env)
    if text is None:
        return default
    if not text.isdigit() or int(text) < minimum:
        raise SettingError(f"{name}={text!r} is not a whole number of at least {minimum}")
    return int(text)


_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def flag(name: str, default: bool, env: Mapping[str, str] | None = None) -> bool:
    text = _raw(name, env)
    if text is None:
        return default
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise SettingError(f"{name}={text!r} is not true or false (also accepted: yes/no, on/off, 1/0)")
