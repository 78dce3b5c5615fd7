"""Printing for people (colour only on a TTY) and for programs (stable JSON)."""

from __future__ import annotations

import json
import sys
from enum import Enum
from itertools import groupby
from typing import Any, Iterable

from rich.console import Console

from controller.manifests.diagnostics import Diagnostic


class Format(str, Enum):
    text = "text"
    json = "json"


console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def print_diagnostics(diagnostics: Iterable[Diagnostic], files_checked: int) -> None:
    items = list(diagnostics)
    for path, group in groupby(items, key=lambda d: d.path):
        console.print(f"[bold]{path}[/bold]")
        for d in group:
            colour = "red" if d.is_error else "yellow"
            console.print(
                f"  {d.path}:{d.line}:{d.column} [{colour}]{d.severity.value}[/{colour}] [bold]{d.code}[/bold] {_escape(d.message)}"
            )
            if d.hint:
                console.print(f"      [dim]hint: {_escape(d.hint)}[/dim]")
    errors = sum(1 for d in items if d.is_error)
    warnings = len(items) - errors
    colour = "red" if errors else ("yellow" if warnings else "green")
    console.print(
        f"[{colour}]{files_checked} file{'s' if files_checked != 1 else ''} checked: "
        f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}[/{colour}]"
    )


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
