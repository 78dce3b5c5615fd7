"""`chatflow plan`, `apply`, `status` and `history`."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from controller.lifecycle.plan import plan as make_plan
from controller.lifecycle.state import Action
from controller.manifests.mermaid import flowchart
from controller.reconcile.apply import apply_plan
from controller.reconcile.reconciler import Reconciler, utc_now
from controller.reconcile.report import all_ready, old_spec, plan_json, status_json
from controller.source.git import GitSource, SourceError
from controller.store.base import StateStore
from controller.store.sqlite import SQLiteStore

from . import plan_render
from .context import RepoOption, RootOption, StateOption, Workspace, workspace
from .main import app
from .output import console, emit_json, err_console


class PlanFormat(str, Enum):
    text = "text"
    json = "json"
    markdown = "markdown"


class StatusFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _source(ws: Workspace) -> GitSource:
    try:
        source = GitSource(ws.repo)
    except SourceError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
    if not source.has_commits():
        err_console.print(f"[red]error:[/red] {ws.repo} has no commits yet; commit your manifests first")
        raise typer.Exit(2)
    return source


def _root_in_repo(ws: Workspace) -> str:
    try:
        return str(ws.root.resolve().relative_to(ws.repo.resolve())).replace("\\", "/")
    except ValueError:
        err_console.print(f"[red]error:[/red] manifest root {ws.root} is outside the repository {ws.repo}")
        raise typer.Exit(2)


def _resolve(source: GitSource, rev: str) -> str:
    try:
        return source.resolve(rev)
    except SourceError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)


@app.command()
def plan(
    base: Optional[str] = typer.Option(None, "--base", help="Plan against BASE's manifests instead of the store (a PR check: --base main)."),
    head: str = typer.Option("HEAD", "--head", help="The revision whose manifests are the desired state."),
    no_merge_base: bool = typer.Option(False, "--no-merge-base", help="Use BASE itself, not `git merge-base BASE HEAD`."),
    output: PlanFormat = typer.Option(PlanFormat.text, "-o", "--output", help="text, json, or markdown (a PR comment)."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
    state: Optional[Path] = StateOption,
) -> None:
    """Show what applying HEAD would do; writes nothing.

    Without --base it compares HEAD's manifests with the state store (an absent store counts as
    empty). With --base it applies BASE's manifests to an empty in-memory store first, so a CI
    job on a pull request needs no store.

    Exit 0 when nothing is blocked or invalid, 1 otherwise.

    \b
    Examples:
      chatflow plan
      chatflow plan --base origin/main -o markdown > plan.md
      chatflow plan --base main --head feature -o json
    """
    ws = workspace(repo, root, state)
    source = _source(ws)
    root_rel = _root_in_repo(ws)
    head_commit = _resolve(source, head)
    if base is not None:
        base_commit = _resolve(source, base)
        if not no_merge_base:
            try:
                base_commit = source.merge_base(base_commit, head_commit)
            except SourceError as exc:
                err_console.print(f"[red]error:[/red] {exc}")
                raise typer.Exit(2)
        from controller.reconcile.reader import read_commit

        store: StateStore = SQLiteStore(":memory:")
        base_snapshot = read_commit(source, base_commit, root_rel, ws.root)
        apply_plan(store, make_plan(base_snapshot.desired, store.actual()), base_commit, utc_now())
        base_label = base_commit
    elif ws.state.exists():
        store = SQLiteStore(ws.state)
        base_label = "store"
    else:
        store = SQLiteStore(":memory:")
        base_label = "store"
        if output is PlanFormat.text:
            err_console.print(f"no state at {ws.shown(ws.state)}: planning against an empty store")
    from controller.reconcile.reader import read_commit

    try:
        snapshot = read_commit(source, head_commit, root_rel, ws.root)
        result = make_plan(snapshot.desired, store.actual())

        def previous(action: Action) -> str | None:
            return old_spec(store, action)

        if output is PlanFormat.json:
            emit_json(plan_json(result, base_label, head_commit))
        elif output is PlanFormat.markdown:
            print(plan_render.markdown(result, base_label, head_commit, previous))
        else:
            console.print(plan_render.text(result, base_label, head_commit, previous), markup=False)
    finally:
        store.close()
    raise typer.Exit(0 if result.ok else 1)


@app.command()
def apply(
    rev: str = typer.Option("HEAD", "--rev", help="The revision to apply (default: HEAD of the repository)."),
    force: bool = typer.Option(False, "--force", help="Reconcile even when this commit was already reconciled."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
    state: Optional[Path] = StateOption,
) -> None:
    """Reconcile once: validate REV's manifests, plan, apply to the store, update status; then exit.

    Exit 0 when everything applied, 1 when something is blocked or invalid (the rest is applied).
    After a clean apply, the next one reads only the files git says changed since (docs/lifecycle.md,
    "Incremental apply"); --force reads every manifest again.

    \b
    Examples:
      chatflow apply
      chatflow apply --rev origin/main --state /var/lib/chatflow/state.db
      chatflow apply --force
    """
    ws = workspace(repo, root, state)
    source = _source(ws)
    store = SQLiteStore(ws.state)
    try:
        reconciler = Reconciler(store, source, _root_in_repo(ws), ws.root, incremental=True)
        try:
            outcome = reconciler.reconcile(rev, force=force)
        except SourceError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2)
        if outcome.skipped:
            console.print(f"{outcome.commit[:12]} is already reconciled: nothing to do ({outcome.duration_ms:.0f} ms)")
            raise typer.Exit(0 if (store.reconcile_record().result == "ok") else 1)
        console.print(f"applied {outcome.applied} action(s) from {outcome.commit[:12]} in {outcome.duration_ms:.0f} ms", markup=False)
        for b in (*outcome.plan.blocked, *outcome.refused):
            console.print(f"BLOCKED {b.kind.lower()} {b.name} ({b.reason}): {b.message}", markup=False)
        for item in outcome.plan.invalid:
            console.print(f"INVALID {item.kind.lower()} {item.name}: " + "; ".join(str(d) for d in item.diagnostics if d.is_error), markup=False)
    finally:
        store.close()
    raise typer.Exit(0 if outcome.ok else 1)


@app.command()
def status(
    output: StatusFormat = typer.Option(StatusFormat.table, "-o", "--output", help="table, json, or markdown."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
    state: Optional[Path] = StateOption,
) -> None:
    """Report every flow and account: desired and actual state, live revision, conditions.

    Exit 0 when everything is Ready, 1 otherwise.

    \b
    Examples:
      chatflow status
      chatflow status -o json | jq '.flows[] | select(.conditions[0].status != "True")'
      chatflow status -o markdown > status.md
    """
    ws = workspace(repo, root, state)
    ws.require_state("run `chatflow apply` or `chatflow serve` first")
    store = SQLiteStore(ws.state)
    try:
        desired = None
        commit = store.reconcile_record().commit
        if commit:
            try:
                from controller.reconcile.reader import read_commit

                source = GitSource(ws.repo)
                desired = read_commit(source, commit, _root_in_repo(ws), ws.root).desired
            except (SourceError, Exception):  # the repo may be elsewhere; status still reports the store
                desired = None
        report = status_json(store, desired)
        if output is StatusFormat.json:
            emit_json(report)
        elif output is StatusFormat.markdown:
            print(_status_markdown(report, store))
        else:
            _status_table(report)
    finally:
        store.close()
    raise typer.Exit(0 if all_ready(report) else 1)


def _ready(item: dict) -> tuple[str, str, str]:
    c = next((c for c in item["conditions"] if c["type"] == "Ready"), None)
    return (c["status"], c["reason"], c["message"]) if c else ("Unknown", "", "")


def _status_table(report: dict) -> None:
    from rich.table import Table

    console.print(f"commit {str(report['commit'] or 'none')[:12]}  last reconcile {report['lastReconcile']['at']} "
                  f"({report['lastReconcile']['result']})", markup=False)
    table = Table("FLOW", "TRIGGER", "ACCOUNT", "DESIRED", "ACTUAL", "REVISION", "READY", "REASON", "MESSAGE", box=None)
    for f in report["flows"]:
        ready, reason, message = _ready(f)
        table.add_row(f["name"], f["trigger"] or "", f["account"] or "", f["desiredState"] or "", f["actualState"],
                      f"{f['revision'] or ''} (#{f['revisionNumber']})" if f["revision"] else "", ready, reason, message)
    console.print(table)
    if report["accounts"]:
        accounts = Table("ACCOUNT", "CHANNEL", "READY", "REASON", "MESSAGE", box=None)
        for a in report["accounts"]:
            ready, reason, message = _ready(a)
            accounts.add_row(a["name"], a["channel"] or "", ready, reason, message)
        console.print(accounts)


def _status_markdown(report: dict, store: StateStore) -> str:
    """A PR comment or wiki page: the tables, what is not ready and why, and a Mermaid diagram per flow."""
    last = report["lastReconcile"]
    out = [f"### chatflow status at `{str(report['commit'] or 'none')[:12]}`", ""]
    if last["at"]:
        out += [f"Last reconcile {last['at']} ({last['result']}).", ""]
    out += ["| flow | trigger | account | desired | actual | revision | commit | ready | reason |",
            "|---|---|---|---|---|---|---|---|---|"]
    for f in report["flows"]:
        ready, reason, _ = _ready(f)
        mark = "✅" if ready == "True" else "❌"
        rev = f"`{f['revision']}` (#{f['revisionNumber']})" if f["revision"] else ""
        commit = f"`{f['commit'][:12]}`" if f["commit"] else ""
        out.append(f"| `{f['name']}` | {f['trigger'] or ''} | {_cell(f['account'])} | {f['desiredState'] or ''} | {f['actualState']} "
                   f"| {rev} | {commit} | {mark} | {_cell(reason)} |")
    if report["accounts"]:
        out += ["", "| account | channel | ready | reason |", "|---|---|---|---|"]
        for a in report["accounts"]:
            ready, reason, _ = _ready(a)
            out.append(f"| `{a['name']}` | {a['channel'] or ''} | {'✅' if ready == 'True' else '❌'} | {_cell(reason)} |")
    problems = []
    for kind, items in (("Flow", report["flows"]), ("Account", report["accounts"])):
        for item in items:
            ready, reason, message = _ready(item)
            if ready != "True":
                problems.append(f"- {kind} `{item['name']}` **{reason}**: {_cell(message)}")
                problems += [f"  - {c['type']} ({c['reason']}): {_cell(c['message'])}" for c in item["conditions"]
                             if c["type"] in ("Invalid", "Blocked") and c["status"] == "True" and c["message"] != message]
    if problems:
        out += ["", "#### Not ready", "", *problems]
    for f in report["flows"]:
        if not f["revision"]:
            continue
        stored = store.revision(f["name"], f["revision"])
        if stored is None:
            continue
        which = "live" if f["actualState"] == "published" else "newest, not live"
        out += ["", f"#### `{f['name']}` · revision #{stored.number} `{stored.hash}` ({which})", "",
                "```mermaid", flowchart(json.loads(stored.spec_json).get("nodes", {})), "```"]
    return "\n".join(out) + "\n"


def _cell(text: str | None) -> str:
    """Text safe inside a Markdown table cell."""
    return " ".join(str(text or "").split()).replace("|", "\\|")


@app.command()
def history(
    flow: Optional[str] = typer.Argument(None, help="A flow or account name (default: everything)."),
    output: PlanFormat = typer.Option(PlanFormat.text, "-o", "--output", help="text or json."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
    state: Optional[Path] = StateOption,
) -> None:
    """List applied transitions (oldest first): commit, action, from -> to, time. Kept after deletion.

    \b
    Examples:
      chatflow history
      chatflow history order-status -o json
    """
    ws = workspace(repo, root, state)
    ws.require_state("nothing has been applied yet")
    store = SQLiteStore(ws.state)
    try:
        rows = store.history(flow)
    finally:
        store.close()
    if output is PlanFormat.json:
        emit_json([{"kind": t.kind, "name": t.name, "action": t.action, "from": t.from_state, "to": t.to_state,
                    "revision": t.revision, "commit": t.commit, "at": t.at, "detail": t.detail} for t in rows])
        return
    if not rows:
        console.print(f"no transitions{' for ' + flow if flow else ''}")
        return
    for t in rows:
        console.print(f"{t.at}  {(t.commit or '')[:12]:<12}  {t.kind.lower():<7} {t.name:<24} {t.action:<15} "
                      f"{t.from_state or '-'} -> {t.to_state or '-'}  {t.revision or ''}", markup=False)
