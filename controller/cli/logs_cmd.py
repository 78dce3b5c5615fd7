"""`chatflow logs`: a flow's execution events from the state store, and following new ones."""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer

from controller.runtime.eventlog import DEFAULT_LIMIT, MAX_LIMIT, BadFilter, EventFilter, Page, parse_since, read, unknown_flow
from controller.runtime.views import event_json
from controller.store.base import StoreError
from controller.store.sqlite import SQLiteStore

from .context import RepoOption, RootOption, StateOption, workspace
from .main import app
from .output import Format, err_console

FOLLOW_EVERY = 1.0  # seconds between two reads of the store while following


@app.command()
def logs(
    flow: str = typer.Argument(..., help="The flow whose events to show (its metadata.name)."),
    conversation: Optional[str] = typer.Option(None, "--conversation", "-c",
                                               help="Only this conversation (an id from `chatflow sessions`)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only events since then: 1h, 30m, 2d, 45s, or an ISO "
                                        "time such as 2026-03-02T09:00:00Z."),
    limit: int = typer.Option(DEFAULT_LIMIT, "--limit", min=1, max=MAX_LIMIT,
                              help="At most this many: the newest ones, printed oldest first."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events as they are stored, until Ctrl-C."),
    output: Format = typer.Option(Format.text, "-o", "--output", help="text for people, json for programs (one "
                                  "JSON object per line)."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
    state: Optional[Path] = StateOption,
) -> None:
    """Show a flow's execution events: flow started/ended, node entered/left, message
    queued/sent/delivered/read/failed, variable set, http call, timer fired, error. Only flows with
    `spec.logging: true` record them. Reads the state store, so it works on any host that can read
    the database `chatflow serve` writes. The same data as GET /api/v1/flows/{name}/events.

    Each text line is: time, conversation, node, event, details.

    \b
    Examples:
      chatflow logs order-status
      chatflow logs order-status --since 1h
      chatflow logs order-status --conversation 3f2a9c0d41b7e8a50000000000000001 -o json
      chatflow logs order-status --follow
      chatflow logs order-status --since 2026-03-02T09:00:00Z -o json | jq .type
    """
    try:
        wanted = EventFilter(flow, conversation or None,
                             parse_since(since, _dt.datetime.now(_dt.timezone.utc)) if since else None, limit)
    except BadFilter as exc:
        _fail(f"--{exc}")
    ws = workspace(repo, root, state)
    ws.require_state("`chatflow serve` has not run here yet (or pass --state)")
    try:
        store = SQLiteStore(ws.state)
    except StoreError as exc:
        _fail(str(exc))
    try:
        problem = unknown_flow(store, flow)
        if problem is not None:
            _fail(problem)
        page = read(store, wanted)
        if page.truncated:
            err_console.print(f"(the newest {limit} events; pass --since or a larger --limit for older ones)",
                              markup=False)
        _print(page, output)
        record = store.flow(flow)
        if not page.events and record is not None and not record.logging:
            err_console.print(f"flow {flow} has spec.logging: false, so nothing is recorded; set "
                              "spec.logging: true in its manifest to record its execution events", markup=False)
        if follow:
            _follow(store, wanted, page.cursor, output)
    finally:
        store.close()


def _follow(store: SQLiteStore, wanted: EventFilter, cursor: int | None, output: Format) -> None:
    try:
        while True:
            time.sleep(FOLLOW_EVERY)
            page = read(store, wanted, after=cursor if cursor is not None else 0)
            _print(page, output)
            cursor = page.cursor
    except KeyboardInterrupt:
        return


def _print(page: Page, output: Format) -> None:
    lines = [json.dumps(event_json(row), ensure_ascii=False, default=str) if output is Format.json else _line(row)
             for row in page.events]
    if not lines:
        return
    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `chatflow logs ... | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(0) from None


def _line(row: Any) -> str:
    e = row.event
    when = e.time.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    details = " ".join(f"{k}={_shown(v)}" for k, v in e.fields.items() if v is not None and v != [])
    return f"{when}  {e.conversation}  {e.node or '-'}  {e.type}" + (f"  {details}" if details else "")


def _shown(value: Any) -> str:
    if isinstance(value, str) and value and all(c.isalnum() or c in "-_.:/@+#*[]" for c in value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _fail(message: str) -> None:
    err_console.print(f"error: {message}", markup=False, style="red")
    raise typer.Exit(2)
