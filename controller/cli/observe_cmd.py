"""`chatflow graph`: a flow as a Mermaid or SVG diagram, from the manifests, a commit or the store."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer

from .context import RepoOption, RootOption, StateOption, Workspace, workspace
from .main import app
from .output import err_console


class GraphFormat(str, Enum):
    mermaid = "mermaid"
    svg = "svg"


class GraphError(Exception):
    """The flow cannot be drawn; the message says why and what to do. `code` is the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@app.command()
def graph(
    flow: str = typer.Argument(..., help="The flow to draw (its metadata.name)."),
    output: GraphFormat = typer.Option(GraphFormat.mermaid, "-o", "--output", help="mermaid (text) or svg (an image)."),
    rev: Optional[str] = typer.Option(None, "--rev", help="live (what serves new conversations), a stored revision number "
                                      "or hash (see `chatflow history FLOW`), or a git revision such as main; "
                                      "default: the manifest files on disk."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
    state: Optional[Path] = StateOption,
) -> None:
    """Draw a flow from start to end: nodes with their type and text, edges labelled with the
    branch conditions ("else", "failure", "no reply in 1h"...), loops drawn dashed.

    \b
    Examples:
      chatflow graph order-status                          # Mermaid, from flows.d on disk
      chatflow graph order-status -o svg > order-status.svg
      chatflow graph order-status --rev live -o svg        # the published revision in the store
      chatflow graph order-status --rev main               # as it is on the main branch
    """
    ws = workspace(repo, root, state)
    try:
        nodes, label = _nodes(ws, flow, rev)
    except GraphError as exc:
        err_console.print(f"[red]error:[/red] {_escape(str(exc))}")
        raise typer.Exit(exc.code)
    if output is GraphFormat.svg:
        from controller.manifests.svg import render

        text = render(nodes, f"{flow} ({label})")
    else:
        from controller.manifests.mermaid import flowchart

        text = flowchart(nodes) + "\n"
    typer.echo(text, nl=False)


def _nodes(ws: Workspace, name: str, rev: str | None) -> tuple[dict[str, Any], str]:
    if rev is None:
        if not ws.root.exists():
            raise GraphError(f"manifest root {ws.shown(ws.root)} does not exist; pass --root or --repo", 2)
        from controller.manifests.catalog import load_root

        return _from_catalog(load_root(ws.root, Path.cwd()), name, ws.shown(ws.root)), "files on disk"
    stored = _from_store(ws, name, rev)
    if stored is not None:
        return stored
    return _from_commit(ws, name, rev)


def _from_catalog(catalog: Any, name: str, where: str) -> dict[str, Any]:
    from controller.manifests.revision import spec_json

    flow = catalog.flows.get(name)
    if flow is None:
        problems = catalog.invalid.get(("Flow", name))
        if problems:
            raise GraphError(f"flow `{name}` in {where} is invalid; fix it first:\n  " + "\n  ".join(str(d) for d in problems))
        known = ", ".join(sorted(catalog.flows)) or "none"
        raise GraphError(f"no flow `{name}` in {where}; flows: {known}")
    return json.loads(spec_json(flow)).get("nodes", {})


def _from_store(ws: Workspace, name: str, rev: str) -> tuple[dict[str, Any], str] | None:
    """`live`, `N`, `#N` or a 12-hex revision hash from the state store; None when `rev` is none of these."""
    number = re.fullmatch(r"#?([0-9]{1,9})", rev)
    is_hash = re.fullmatch(r"[0-9a-f]{12}", rev) is not None
    if rev != "live" and number is None and not is_hash:
        return None
    if not ws.state.exists():
        if is_hash:
            return None  # may still be a commit
        raise GraphError(f"no state at {ws.shown(ws.state)}; run `chatflow apply` or `chatflow serve` first, "
                         "or drop --rev to draw the files on disk", 2)
    from controller.store.sqlite import SQLiteStore

    store = SQLiteStore(ws.state)
    try:
        record = store.flow(name)
        revisions = store.revisions(name) if record is not None else []
    finally:
        store.close()
    if record is None:
        if is_hash:
            return None
        raise GraphError(f"the state store has no flow `{name}`; `chatflow status` lists what it has")
    if rev == "live":
        chosen = next((r for r in revisions if r.hash == record.live_revision), None)
        if chosen is None:
            raise GraphError(f"flow `{name}` has no live revision (it is {record.state}); "
                             f"--rev {record.revision_number} draws its newest stored revision")
        return json.loads(chosen.spec_json).get("nodes", {}), f"live revision #{chosen.number} {chosen.hash}"
    if number is not None:
        chosen = next((r for r in revisions if r.number == int(number.group(1))), None)
        if chosen is None:
            raise GraphError(f"flow `{name}` has no revision #{number.group(1)}; it has "
                             + ", ".join(f"#{r.number}" for r in revisions))
    else:
        chosen = next((r for r in revisions if r.hash == rev), None)
        if chosen is None:
            return None
    return json.loads(chosen.spec_json).get("nodes", {}), f"revision #{chosen.number} {chosen.hash}"


def _from_commit(ws: Workspace, name: str, rev: str) -> tuple[dict[str, Any], str]:
    from controller.reconcile.reader import read_commit
    from controller.source.git import GitSource, SourceError

    try:
        source = GitSource(ws.repo)
        try:
            commit = source.resolve(rev)
            root_rel = str(ws.root.resolve().relative_to(ws.repo.resolve())).replace("\\", "/")
            snapshot = read_commit(source, commit, root_rel, ws.root)
        finally:
            source.close()
    except (SourceError, ValueError) as exc:
        raise GraphError(f"--rev {rev!r} is not `live`, a stored revision of `{name}` or a git revision here ({exc})", 2)
    where = f"{ws.shown(ws.root)} at {commit[:12]}"
    flow = snapshot.desired.flows.get(name)
    if flow is None:
        problems = snapshot.desired.invalid.get(("Flow", name))
        if problems is not None:
            raise GraphError(f"flow `{name}` in {where} is invalid; fix it first:\n  "
                             + "\n  ".join(str(d) for d in problems.diagnostics if d.is_error))
        known = ", ".join(sorted(snapshot.desired.flows)) or "none"
        raise GraphError(f"no flow `{name}` in {where}; flows: {known}")
    return json.loads(flow.spec_json).get("nodes", {}), f"commit {commit[:12]}"


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
