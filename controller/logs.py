"""Structured logging (structlog): JSON lines when not on a TTY, and the one redaction processor."""

from __future__ import annotations

import logging
import re
import sys
import threading
from typing import Any, Mapping

import structlog

_SECRET_KEY = re.compile(r"(token|secret|password|authorization|api[-_]?key|cookie|signature)", re.I)
_URL_CREDENTIALS = re.compile(r"//[^/@\s]+@")
REDACTED = "***"


class SecretRegistry:
    """Values resolved from secret references; any of them in a log event is replaced."""

    def __init__(self) -> None:
        self._values: frozenset[str] = frozenset()  # replaced whole: readers never see it change under them
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) >= 4 and value not in self._values:
            with self._lock:
                self._values = self._values | {value}

    def scrub(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return _URL_CREDENTIALS.sub("//" + REDACTED + "@", text)


SECRETS = SecretRegistry()


def _redact(value: Any, key: str = "") -> Any:
    if key and _SECRET_KEY.search(key) and isinstance(value, (str, bytes)):
        return REDACTED
    if isinstance(value, str):
        return SECRETS.scrub(value)
    if isinstance(value, dict):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact(v) for v in value)
    return value


def looks_secret(name: str) -> bool:
    """A key or variable name that says it holds a secret (token, password, api_key...)."""
    return bool(_SECRET_KEY.search(name))


def scrub(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The same redaction as the processor, for any record that leaves the process (execution events)."""
    return {k: _redact(v, str(k)) for k, v in fields.items()}


def redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: secret-looking keys and every resolved secret value become ***."""
    return scrub(event)


def configure(json_lines: bool | None = None, level: int = logging.INFO) -> None:
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    renderer = structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
