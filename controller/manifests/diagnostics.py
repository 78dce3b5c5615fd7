"""Diagnostics: the one error type for user input, with stable codes and a place."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Iterable, Iterator


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    title: str


def _codes(*rows: tuple[str, str, str]) -> dict[str, Code]:
    return {c: Code(c, Severity(s), t) for c, s, t in rows}


# The registry of every diagnostic code. docs/diagnostics.md documents each one; a test
# keeps the two in step. Codes are stable: never renumber, only add.
CODES: dict[str, Code] = _codes(
    # 0xx: reading files
    ("CF001", "error", "file larger than 1 MiB"),
    ("CF002", "error", "file is not valid UTF-8"),
    ("CF003", "error", "YAML syntax error"),
    ("CF004", "error", "duplicate mapping key"),
    ("CF005", "error", "YAML tag not allowed"),
    ("CF006", "error", "anchors and aliases expand past the limit"),
    ("CF007", "error", "document is not a mapping"),
    ("CF008", "warning", "file holds no documents"),
    # 01x: envelope and schema
    ("CF010", "error", "unsupported apiVersion"),
    ("CF011", "error", "unknown kind"),
    ("CF012", "error", "required field missing"),
    ("CF013", "error", "unknown field"),
    ("CF014", "error", "invalid value"),
    ("CF015", "error", "unknown component type"),
    ("CF020", "error", "duplicate name"),
    # 1xx: flow graph
    ("CF100", "error", "no start node"),
    ("CF101", "error", "more than one start node"),
    ("CF102", "error", "no end node"),
    ("CF103", "error", "target names no node"),
    ("CF104", "warning", "unreachable node"),
    ("CF105", "error", "loop with no waiting node"),
    ("CF106", "error", "a path with no way out"),
    ("CF107", "warning", "goto target cannot reach the goto"),
    # 11x: templates and expressions
    ("CF110", "warning", "variable used before any assignment"),
    ("CF111", "error", "template or expression does not compile"),
    ("CF112", "error", "unknown filter or test"),
    ("CF113", "error", "unknown name in template or expression"),
    ("CF114", "error", "http save path is not JMESPath"),
    # 12x: trigger and account rules
    ("CF120", "error", "manual trigger with an account"),
    ("CF121", "error", "published message-trigger flow without an account"),
    ("CF122", "error", "account channel differs from the trigger type"),
    ("CF123", "error", "account does not exist"),
    ("CF124", "warning", "entry keyword conflict between published flows"),
    ("CF125", "warning", "keywords on a manual trigger are never used"),
    ("CF126", "error", "channel id used by two accounts"),
    ("CF127", "error", "account block does not match the channel"),
    # 13x: channel limits
    ("CF130", "warning", "channel limit worked around by the adapter"),
    ("CF131", "error", "channel limit exceeded"),
    # 14x: secrets
    ("CF140", "error", "literal secret where a reference is required"),
    ("CF141", "error", "secret file inside the manifest root"),
    # 15x: flow tests and cross-flow references
    ("CF150", "error", "FlowTest names an unknown flow"),
    ("CF151", "error", "start_flow names an unknown flow"),
    ("CF152", "error", "send names an unknown account"),
    ("CF153", "error", "FlowTest expects a node the flow does not have"),
    ("CF160", "error", "FlowTest failed"),
)


@dataclass(frozen=True)
class Diagnostic:
    """One finding about a manifest, printed as `path:line:col severity code message`."""

    code: str
    message: str
    path: str
    line: int = 1
    column: int = 1
    hint: str | None = None
    severity: Severity = field(default=Severity.ERROR)
    subject: tuple[str, str] | None = field(default=None, compare=False)  # (kind, name) it is about

    @classmethod
    def make(
        cls,
        code: str,
        message: str,
        path: str,
        line: int = 1,
        column: int = 1,
        hint: str | None = None,
        subject: tuple[str, str] | None = None,
    ) -> "Diagnostic":
        return cls(code, message, path, line, column, hint, CODES[code].severity, subject)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def at(self, line: int, column: int) -> "Diagnostic":
        return replace(self, line=line, column=column)

    def as_error(self) -> "Diagnostic":
        return replace(self, severity=Severity.ERROR)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "severity": self.severity.value,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }
        if self.hint:
            out["hint"] = self.hint
        return out

    def __str__(self) -> str:
        text = f"{self.path}:{self.line}:{self.column} {self.severity.value} {self.code} {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    return (d.path, d.line, d.column, d.code)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


# However broken a manifest, its report (and the work to make it) stays bounded.
MAX_PER_MANIFEST = 100


def capped(diagnostics: Iterable[Diagnostic], limit: int = MAX_PER_MANIFEST) -> Iterator[Diagnostic]:
    """The first `limit` + 1 diagnostics of one manifest; the last says that the list stops there.

    Lazy: the checks that would find the rest never run.
    """
    for count, d in enumerate(diagnostics):
        if count == limit:
            yield replace(d, message=f"{d.message} (only the first {limit + 1} problems of this manifest are shown; fix these first)")
            return
        yield d
