"""`chatflow test`: converse with a flow through the engine (no channel), or run every FlowTest."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, List, Optional

import typer

from controller.engine import flowtest
from controller.engine.conversation import Conversation, Turn
from controller.engine.events import Execution
from controller.engine.messages import Contact
from controller.engine.services import HttpRequest, HttpResponse, LlmRequest, LlmResponse, Services
from controller.manifests.catalog import Catalog, load_root

from .context import RepoOption, RootOption, Workspace, workspace
from .main import app
from .output import Format, console, emit_json, err_console

OFFLINE_HTTP = "not made: `chatflow test` makes no HTTP calls without --live-http"
OFFLINE_LLM = "not made: `chatflow test` makes no LLM calls without --live-http"


@app.command("test")
def test_cmd(
    flow: Optional[str] = typer.Argument(None, help="The flow to talk to (its metadata.name)."),
    say: Optional[List[str]] = typer.Option(None, "--say", help="A message from the contact; repeat for a conversation."),
    all_tests: bool = typer.Option(False, "--all", help="Run every FlowTest under the manifest root."),
    var: Optional[List[str]] = typer.Option(None, "--var", help="A trigger input NAME=VALUE (manual flows); repeatable."),
    name: Optional[str] = typer.Option(None, "--name", help="The contact's name (templates see contact.name)."),
    live_http: bool = typer.Option(False, "--live-http", help="Make the flow's HTTP and LLM calls for real."),
    output: Format = typer.Option(Format.text, "-o", "--output", help="text for people, json for programs."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
) -> None:
    """Talk to a flow through the engine with no channel, or run the FlowTests.

    With --say, each TEXT is one message from the contact and the transcript is printed (bot
    messages, buttons, variables, where the conversation waits). Without --say, messages are read
    from the terminal (or standard input) one per line; `/tap ID`, `/timeout`, `/release` and
    `/quit` do what they say. HTTP and LLM calls are not made unless --live-http: an http node then
    takes its on_failure path, and the transcript says so.

    Exit 0 when the conversation ran (or every FlowTest passed), 1 otherwise.

    \b
    Examples:
      chatflow test order-status --say hi --say "Track my order" --say 1234
      chatflow test reengagement --var phone=+15550002222 --var cart_total=150 -o json
      chatflow test --all
    """
    ws = workspace(repo, root, None)
    if not ws.root.exists():
        err_console.print(f"[red]error:[/red] manifest root {ws.shown(ws.root)} does not exist; pass --root or --repo")
        raise typer.Exit(2)
    if all_tests == (flow is not None):
        err_console.print("[red]error:[/red] give a FLOW to talk to, or --all to run every FlowTest (not both)")
        raise typer.Exit(2)
    catalog = load_root(ws.root, Path.cwd())
    if all_tests:
        raise typer.Exit(_run_all(catalog, output))
    assert flow is not None
    raise typer.Exit(_converse(ws, catalog, flow, say, var or [], name, live_http, output))


# ---- --all ---------------------------------------------------------------------------------


def _run_all(catalog: Catalog, output: Format) -> int:
    tests = {d.name: d for d in catalog.documents if d.kind == "FlowTest"}
    results = flowtest.run_all(catalog)
    skipped = sorted(set(tests) - {r.test for _, r in results})
    failed = [r for _, r in results if not r.ok]
    errors = [d for d in catalog.diagnostics if d.is_error]  # a broken file may hold FlowTests too
    if output is Format.json:
        emit_json(
            {
                "ok": not failed and not skipped and not errors,
                "passed": len(results) - len(failed),
                "failed": len(failed),
                "notRun": [{"name": n, "flow": tests[n].manifest.spec.flow, "reason": "the flow is missing or invalid"}  # type: ignore[union-attr]
                           for n in skipped],
                "tests": [dict(r.to_json(), path=d.path) for d, r in results],
                "errors": [d.to_json() for d in errors],
            }
        )
    else:
        for document, result in results:
            if result.ok:
                steps = f"{len(result.turns)} step{'s' if len(result.turns) != 1 else ''}"
                console.print(f"[green]PASS[/green] {result.test} [dim]({result.flow}, {steps}, {document.path})[/dim]")
            else:
                console.print(f"[red]FAIL[/red] {result.test} [dim]({result.flow}, {document.path})[/dim]")
                for failure in result.failures:
                    where = f"step {failure.step}" if failure.step else "start"
                    first, *rest = failure.message.splitlines()
                    console.print(f"  {where}: {_escape(first)}")
                    for line in rest:
                        console.print(f"  {_escape(line)}")
        for n in skipped:
            console.print(f"[red]NOT RUN[/red] {n}: flow `{tests[n].manifest.spec.flow}` is missing or invalid; "  # type: ignore[union-attr]
                          "run `chatflow validate` to see why")
        if errors:
            console.print(f"[red]{len(errors)} manifest error{'s' if len(errors) != 1 else ''}[/red] (FlowTests in a broken file cannot run):")
            for d in errors:
                console.print(f"  {_escape(str(d))}")
        colour = "red" if failed or skipped or errors else "green"
        console.print(f"[{colour}]{len(results) - len(failed)} passed, {len(failed)} failed"
                      + (f", {len(skipped)} not run" if skipped else "") + f"[/{colour}]")
        if not tests:
            console.print("no FlowTests found under the manifest root")
    return 1 if failed or skipped or errors else 0


# ---- one conversation ----------------------------------------------------------------------


def _converse(ws: Workspace, catalog: Catalog, name: str, says: list[str] | None, pairs: list[str],
              contact_name: str | None, live: bool, output: Format) -> int:
    flow = catalog.flows.get(name)
    if flow is None:
        problems = catalog.invalid.get(("Flow", name))
        if problems:
            err_console.print(f"[red]error:[/red] flow `{name}` is invalid:")
            for d in problems:
                err_console.print(f"  {_escape(str(d))}")
        else:
            known = ", ".join(sorted(catalog.flows)) or "none"
            err_console.print(f"[red]error:[/red] no flow `{name}` under {ws.shown(ws.root)}; flows: {known}")
        return 1
    variables: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            err_console.print(f"[red]error:[/red] --var {pair!r} is not NAME=VALUE")
            return 2
        variables[key] = value
    if live:  # httpx: only a live conversation reaches out
        from controller.engine.http import HttpClient
        from controller.engine.llm import LlmClient
    http_client = HttpClient() if live else None
    llm_client = LlmClient(http=http_client) if live else None
    services = Services(
        http=http_client if http_client is not None else _offline_http,
        llm=llm_client if llm_client is not None else _offline_llm,
    )
    conversation = Conversation(flow, services=services, contact=Contact(address="test-contact", name=contact_name),
                                variables=variables, resolve=catalog.flows.get)
    turns: list[Turn] = []
    show = output is Format.text
    echo = bool(says) or not sys.stdin.isatty()  # a person typing at a terminal sees their own words
    try:
        if not flow.spec.trigger.is_message:
            turns.append(conversation.begin())
            if show:
                _print_turn(turns[-1], echo, conversation)
        lines = says if says else _read_lines(show)
        for line in lines:
            turn = _input(conversation, line)
            if turn is None:
                if line.strip() in ("/quit", "/exit"):
                    break
                if show:
                    console.print(f"[dim]{_escape(_command_help(line))}[/dim]")
                continue
            turns.append(turn)
            if show:
                _print_turn(turn, echo, conversation)
    finally:
        if http_client is not None:
            http_client.close()
    if output is Format.json:
        emit_json({"flow": flow.name, "steps": [t.to_json() for t in turns]})
    return 0


def _input(conversation: Conversation, line: str) -> Turn | None:
    text = line.rstrip("\n")
    command, _, rest = text.strip().partition(" ")
    if command == "/tap" and rest.strip():
        return conversation.tap(rest.strip())
    if command == "/timeout":
        return conversation.timeout()
    if command == "/release":
        return conversation.release() if conversation.live else None
    if command.startswith("/") and command not in ("//",):
        return None
    return conversation.say(text[1:] if text.startswith("//") else text)


def _command_help(line: str) -> str:
    command = line.strip().split(" ")[0]
    if command == "/timeout":
        return "nothing waits for a timeout"
    if command == "/release":
        return "the conversation is not handed over"
    return "commands: /tap ID, /timeout, /release, /quit (start a message with // to send a literal /)"


def _read_lines(interactive: bool) -> Any:
    tty = sys.stdin.isatty()
    if tty and interactive:
        console.print("[dim]type a message; /tap ID, /timeout, /release, /quit[/dim]")
    while True:
        if tty and interactive:
            console.print("[bold]you>[/bold] ", end="")
        line = sys.stdin.readline()
        if not line:
            return
        yield line


def _offline_http(request: HttpRequest) -> HttpResponse:
    return HttpResponse(None, error=OFFLINE_HTTP)


def _offline_llm(request: LlmRequest) -> LlmResponse:
    return LlmResponse(None, error=OFFLINE_LLM)


def _print_turn(turn: Turn, echo: bool, conversation: Conversation) -> None:
    if turn.said is not None and echo:
        console.print(f"[bold]you:[/bold] {_escape(turn.said)}")
    for reply in turn.replies:
        m = reply.message
        body = m.text
        if m.media is not None:
            body = f"[{m.media.kind} {m.media.url}]" + (f" {m.media.caption}" if m.media.caption else "")
        if m.template is not None:
            body = f"[template {m.template.name} ({m.template.language})] " + " | ".join(m.template.params)
        to = f" → {reply.to} via {reply.account}" if reply.to is not None else ""
        console.print(f"[cyan]bot{_escape(to)}:[/cyan] {_escape(body or '')}")
        if m.buttons:
            console.print("     " + "  ".join(f"\\[{_escape(b.title)}]" for b in m.buttons))
        if m.list is not None:
            console.print(f"     ≡ {_escape(m.list.button)}: " + " | ".join(_escape(r.title) for s in m.list.sections for r in s.rows))
    for note in (*_notes(turn.executions), *turn.notes):
        console.print(f"     [yellow]{_escape(note)}[/yellow]")
    console.print(f"     [dim]{_escape(_state(turn, conversation.now))}[/dim]")


def _notes(executions: tuple[Execution, ...]) -> list[str]:
    """What a person testing a flow wants to know beyond the messages: failed calls and the path
    they took, errors, handoffs."""
    out: list[str] = []
    explained: set[str | None] = set()
    for i, e in enumerate(executions):
        f = e.fields
        failed_call = e.type in ("http.call", "llm.call") and (
            f.get("error") or (e.type == "http.call" and not 200 <= (f.get("status") or 0) < 300)
        )
        if failed_call:
            what = f"http {f.get('method')} {f.get('url')}" if e.type == "http.call" else "llm"
            why = f.get("error") or f"status {f.get('status')}"
            after = next((x for x in executions[i + 1:] if x.node == e.node and x.type in ("node.left", "flow.ended")), None)
            path = f"on_failure -> {after.fields.get('to')}" if after is not None and after.type == "node.left" else "the end (no on_failure)"
            out.append(f"{what}: {why}; taking {path}")
            explained.add(e.node)
        elif e.type == "error" and e.node not in explained:
            out.append(f"error at {e.node}: {f.get('message')}")
        elif e.type == "flow.started" and f.get("dropped"):
            out.append(f"dropped inputs the flow does not declare: {', '.join(f['dropped'])}")
        elif e.type == "handoff.started":
            note = f" ({f['note']})" if f.get("note") else ""
            out.append(f"handed over to a person{note}; the bot is silent until /release or the timeout")
    return out


def _state(turn: Turn, now: datetime) -> str:
    session = turn.session
    values = ", ".join(f"{k}={v!r}" for k, v in sorted((session.vars if session else {}).items())) or "none"
    if session is None:
        return "not started"
    if session.is_final:
        return f"{session.status} (outcome {session.outcome!r}) · vars: {values}"
    deadline = session.deadline
    timer = f" · {_DEADLINE[deadline.kind]} in {_span(deadline.at - now)}" if deadline else ""
    return f"{'handed over' if session.status == 'handed_over' else 'waiting'} at {session.node}{timer} · vars: {values}"


_DEADLINE = {"question": "times out", "delay": "goes on", "handoff": "handoff ends", "expiry": "expires"}


def _span(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (seconds, "s")) if v]
    return " ".join(parts[:2]) or "0s"


def _escape(text: str) -> str:
    return text.replace("[", "\\[")
