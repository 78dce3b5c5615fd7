"""`chatflow sessions`: the conversations the runtime holds, newest first."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from controller.runtime.views import conversation_json
from controller.store.sqlite import SQLiteStore

from .context import RepoOption, RootOption, StateOption, workspace
from .main import app
from .output import Format, console, emit_json, err_console

STATUSES = ("live", "active", "waiting", "handed_over", "ended", "expired")


@app.command()
def sessions(
    flow: Optional[str] = typer.Argument(None, help="Only this flow's conversations."),
    status: Optional[str] = typer.Option(None, "--status", help=f"One of: {', '.join(STATUSES)} (live: not ended)."),
    limit: int = typer.Option(50, "--limit", min=1, max=10000, help="At most this many, newest first."),
    output: Format = typer.Option(Format.text, "-o", "--output", help="text for people, json for programs."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
    state: Optional[Path] = StateOption,
) -> None:
    """List conversations: id, flow and revision, status, where each waits, the contact, and its
    next deadline. The same data as GET /api/v1/conversations.

    \b
    Examples:
      chatflow sessions
      chatflow sessions order-status --status handed_over -o json
    """
    if status is not None and status not in STATUSES:
        err_console.print(f"[red]error:[/red] --status {status!r} is not one of {', '.join(STATUSES)}")
        raise typer.Exit(2)
    ws = workspace(repo, root, state)
    ws.require_state("`chatflow serve` has not run here yet")
    store = SQLiteStore(ws.state)
    try:
        rows = [conversation_json(r) for r in store.sessions(flow=flow, status=status, limit=limit)]
    finally:
        store.close()
    if output is Format.json:
        emit_json({"conversations": rows})
        return
    if not rows:
        console.print("no conversations" + (f" of flow {flow}" if flow else "") + (f" that are {status}" if status else ""))
        return
    for c in rows:
        contact = c["contact"]
        deadline = f"  next {c['deadline']['kind']} at {c['deadline']['at']}" if c["deadline"] else ""
        where = f"at {c['node']}" if c["status"] not in ("ended", "expired") else f"outcome {c['outcome'] or '-'}"
        console.print(f"{c['id']}  {c['flow']}@{c['revision'][:12]}  {c['status']:<11} {where:<20} "
                      f"{contact['channel']}:{contact['account']}:{contact['address']}  started {c['startedAt']}{deadline}",
                      markup=False)
