"""`chatflow new`, `templates`, `export`, `import` and `generate`: the four ways to create a flow."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, List, NoReturn, Optional, Sequence

import typer

from controller.manifests import draft, library, portable
from controller.manifests.catalog import load_root
from controller.manifests.diagnostics import Diagnostic
from controller.manifests.draft import DraftError, Root
from controller.manifests.loader import SourceFile, parse


from .context import RepoOption, RootOption, Workspace, workspace
from .main import app
from .output import console, emit_json, err_console

TRIGGERS = ("manual", "whatsapp", "instagram", "viber", "messenger")


class Trigger(str, Enum):
    manual = "manual"
    whatsapp = "whatsapp"
    instagram = "instagram"
    viber = "viber"
    messenger = "messenger"


class ListFormat(str, Enum):
    text = "text"
    json = "json"


class DocFormat(str, Enum):
    json = "json"
    yaml = "yaml"


class Source(str, Enum):
    chatflow = "chatflow"
    twilio_studio = "twilio-studio"


def _escape(text: str) -> str:
    return text.replace("[", "\\[")


def fail(message: str, diagnostics: Sequence[Diagnostic] = ()) -> NoReturn:
    """Print what went wrong (and the diagnostics behind it), say nothing was written, exit 1."""
    err_console.print(f"[red]error:[/red] {_escape(message)}")
    for d in diagnostics:
        err_console.print(f"  {_escape(str(d))}")
    raise typer.Exit(1)


def refuse(message: str, diagnostics: Sequence[Diagnostic] = ()) -> NoReturn:
    """fail() for commands that create files: says that nothing was written."""
    fail(message if "not written" in message else f"{message} (nothing written)", diagnostics)


def _warn(messages: List[str]) -> None:
    for message in messages:
        err_console.print(f"[yellow]warning:[/yellow] {_escape(message)}")


def _check_name(name: str) -> None:
    problem = draft.name_problem(name)
    if problem:
        refuse(problem)


def write_new(ws: Workspace, root: Root, name: str, text: str, tests: Sequence[str] = ()) -> tuple[Path, List[Diagnostic]]:
    """Write flows.d/NAME.yaml after checking it against the whole root; exit 1 (nothing written) otherwise."""
    target = ws.root / f"{name}.yaml"
    shown = ws.shown(target)
    problem = draft.target_problem(root, target, shown, name, tests)
    if problem:
        refuse(problem)
    diagnostics = root.check(shown, text)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        refuse(f"the new flow would not validate, so {shown} was not written:", errors)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with target.open("x", encoding="utf-8") as fh:
            fh.write(text)
    except FileExistsError:
        refuse(f"{shown} already exists; choose another name or edit that file")
    return target, [d for d in diagnostics if not d.is_error]


def _secrets(value: Any) -> List[str]:
    """`env NAME` / `file PATH` of every secret reference in a manifest's data."""
    found: List[str] = []
    if isinstance(value, dict):
        if len(value) == 1 and set(value) <= {"env", "file"}:
            key = next(iter(value))
            found.append(f"{'environment variable' if key == 'env' else 'file'} {value[key]}")
        else:
            for item in value.values():
                found.extend(_secrets(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(_secrets(item))
    return list(dict.fromkeys(found))


def report_created(ws: Workspace, target: Path, name: str, trigger: str, account: Optional[str], tests: int,
                   warnings: List[Diagnostic], secrets: List[str], origin: str) -> None:
    shown = ws.shown(target)
    binding = f"bound to account {account}" if account else ("no account (manual)" if trigger == "manual" else "no account bound yet")
    with_tests = f", with {tests} FlowTest{'s' if tests != 1 else ''}" if tests else ""
    console.print(f"[green]created[/green] {shown}: flow `{name}` ({origin}; {trigger} trigger, unpublished, {binding}){with_tests}")
    for d in warnings:
        console.print(f"  [yellow]{_escape(str(d))}[/yellow]")
    say = "" if trigger == "manual" else " --say hi"
    steps = [
        ("design", f"edit {shown} (every component is in docs/manifests.md)"),
        ("check", f"chatflow validate {shown}"),
        ("try", f"chatflow test {name}{say}" + ("   (chatflow test --all runs its FlowTests)" if tests else "")),
    ]
    if secrets:
        steps.append(("secrets", f"provide {', '.join(secrets)} where chatflow runs"))
    bind = "" if trigger == "manual" or account else f"bind a {trigger} account (`spec.trigger.account`), "
    steps.append(("publish", f"{bind}set `spec.state: published`, commit, open a pull request"))
    console.print("next steps:")
    for label, text in steps:
        console.print(f"  {label:<8} {_escape(text)}")


def _check_account(root: Root, account: Optional[str], trigger: str) -> None:
    if account is None:
        return
    problem = root.account_problem(account, trigger)
    if problem:
        refuse(problem)


@app.command()
def new(
    name: str = typer.Argument(..., help="The flow's name: lower-case letters, digits and '-' (e.g. order-status)."),
    trigger: Optional[Trigger] = typer.Option(None, "--trigger", "-t", help="What starts the flow (required without --template)."),
    account: Optional[str] = typer.Option(None, "--account", "-a", help="Bind this Account (message triggers only)."),
    template: Optional[str] = typer.Option(None, "--template", help="Start from a template (see `chatflow templates`)."),
    display_name: Optional[str] = typer.Option(None, "--display-name", help="The flow's display name."),
    remark: Optional[str] = typer.Option(None, "--remark", help="A one-line remark about the flow."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
) -> None:
    """Create a new flow in flows.d/NAME.yaml: blank (start -> end) or from a template.

    The flow is unpublished, and bound to an account only with --account. Nothing is written when
    the name is taken (by any manifest under the root) or invalid, or when the account is unknown,
    of another channel, or given for a manual trigger.

    \b
    Examples:
      chatflow new support --trigger whatsapp
      chatflow new support --trigger whatsapp --account acme-wa --display-name "Support"
      chatflow new orders --template order-lookup --account acme-wa
    """
    _check_name(name)
    ws = workspace(repo, root, None)
    header = draft.modeline(ws.root / f"{name}.yaml", ws.repo)
    loaded = Root.load(ws.root, Path.cwd())
    try:
        if template is None:
            if trigger is None:
                refuse("--trigger is required for a blank flow: one of " + ", ".join(TRIGGERS) + " (or use --template)")
            _check_account(loaded, account, trigger.value)
            data = draft.blank_flow(name, trigger.value, account, display_name, remark)
            text, tests, kind, origin = draft.dump([data], header), [], trigger.value, "blank"
            secrets: List[str] = []
        else:
            chosen = library.get(template)
            kind = library.trigger_for(chosen, trigger.value if trigger is not None else None)
            _check_account(loaded, account, kind)
            instance = library.instantiate(chosen, name, trigger.value if trigger else None, account, display_name, remark, header)
            text, tests, origin = instance.text, list(instance.tests), f"from template {chosen.name}"
            secrets = _secrets(draft.load_round_trip(instance.text))
    except DraftError as exc:
        refuse(str(exc))
    target, warnings = write_new(ws, loaded, name, text, tests)
    report_created(ws, target, name, kind, account, len(tests), warnings, secrets, origin)


@app.command("templates")
def templates_cmd(
    output: ListFormat = typer.Option(ListFormat.text, "-o", "--output", help="text for people, json for programs."),
) -> None:
    """List the template library: name, trigger, node count and what each one does.

    \b
    Create a flow from one with:
      chatflow new NAME --template TEMPLATE [--account A]
    """
    found = library.templates()
    if output is ListFormat.json:
        emit_json({"templates": [t.to_json() for t in found]})
        return
    width = max(len(t.name) for t in found)
    console.print(f"[bold]{'TEMPLATE':<{width}}  {'TRIGGER':<9}  NODES  DESCRIPTION[/bold]")
    for t in found:
        console.print(f"{t.name:<{width}}  {t.trigger:<9}  {t.node_count:>5}  {_escape(t.description)}")
    console.print(f"\n{len(found)} templates. Use one: chatflow new NAME --template TEMPLATE [--account A]")


@app.command()
def export(
    name: str = typer.Argument(..., help="The flow to export."),
    fmt: DocFormat = typer.Option(DocFormat.json, "--format", "-f", help="json (default) or yaml."),
    out: Optional[Path] = typer.Option(None, "-o", "--output", help="Write to this file instead of standard output."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
) -> None:
    """Export a flow as a portable document: its design, basic info and FlowTests.

    The document carries a format version, the flow's spec, displayName, remark and labels, and
    the FlowTests that name it. It never carries the account binding or the published state;
    secrets stay references ({env: NAME} / {file: PATH}), never values.

    \b
    Examples:
      chatflow export order-status > order-status.json
      chatflow export order-status --format yaml -o order-status.export.yaml
    """
    ws = workspace(repo, root, None)
    if not ws.root.exists():
        fail(f"manifest root {ws.shown(ws.root)} does not exist")
    catalog = load_root(ws.root, Path.cwd())
    try:
        exported = portable.export_flow(catalog, name)
    except DraftError as exc:
        fail(str(exc))
    _warn(exported.warnings)
    text = portable.render_json(exported.document) if fmt is DocFormat.json else draft.dump([exported.document])
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    err_console.print(f"exported flow `{name}` to {out}")


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="A chatflow export (JSON or YAML) or a Twilio Studio flow definition (JSON)."),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Name of the new flow (default: the exported name)."),
    account: Optional[str] = typer.Option(None, "--account", "-a", help="Bind this Account (message triggers only)."),
    source: Optional[Source] = typer.Option(None, "--from", help="chatflow or twilio-studio (default: recognised from the file)."),
    trigger: Optional[Trigger] = typer.Option(None, "--trigger", "-t", help="Twilio Studio only: the trigger of the new flow."),
    subflow: Optional[List[str]] = typer.Option(None, "--subflow", help="Twilio Studio only: FLOW_SID=NAME maps a run-subflow target to a flow here."),
    display_name: Optional[str] = typer.Option(None, "--display-name", help="The new flow's display name."),
    remark: Optional[str] = typer.Option(None, "--remark", help="The new flow's remark."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
) -> None:
    """Import a flow as a new, unpublished manifest in flows.d/NAME.yaml.

    From a chatflow export it creates an identical copy (with its FlowTests, renamed after the new
    flow). From a Twilio Studio flow definition it converts every widget that has an equivalent and
    marks each one that has none (a warning names it). The result is validated first: on errors
    they are printed and nothing is written.

    \b
    Examples:
      chatflow import order-status.json --name order-status-v2
      chatflow import studio-flow.json --from twilio-studio --name support --account acme-wa
    """
    if name is not None:
        _check_name(name)
    ws = workspace(repo, root, None)
    try:
        data = portable.read_file(file)
    except DraftError as exc:
        refuse(str(exc))
    studio = portable.looks_like_studio(data)
    if source is None:
        source = Source.twilio_studio if studio else Source.chatflow
    elif source is Source.twilio_studio and not studio:
        refuse(f"{file} is not a Twilio Studio flow definition: it has no `states` and `initial_state`")
    loaded = Root.load(ws.root, Path.cwd())
    try:
        if source is Source.chatflow:
            if trigger is not None or subflow:
                refuse("--trigger and --subflow apply to --from twilio-studio only; a chatflow export keeps its trigger")
            imported = portable.import_flow(data, name, account, display_name, remark)
            origin = f"imported from {file.name}"
        else:
            imported = _from_studio(data, file, name, account, trigger, subflow or [], display_name, remark, loaded)
            origin = f"converted from Twilio Studio {file.name}"
    except DraftError as exc:
        refuse(str(exc))
    if name is None:
        _check_name(imported.name)
    kind = imported.flow["spec"]["trigger"]["type"]
    _check_account(loaded, account, kind)
    _warn(imported.warnings)
    header = draft.modeline(ws.root / f"{imported.name}.yaml", ws.repo)
    text = draft.dump(imported.documents(), header)
    target, warnings = write_new(ws, loaded, imported.name, text, imported.test_names)
    report_created(ws, target, imported.name, kind, account, len(imported.tests), warnings,
                   _secrets(imported.documents()), origin)


def _from_studio(data: Any, file: Path, name: Optional[str], account: Optional[str], trigger: Optional[Trigger],
                 subflow: List[str], display_name: Optional[str], remark: Optional[str], loaded: Root) -> portable.Imported:
    mapping: dict[str, str] = {}
    for item in subflow:
        sid, sep, flow = item.partition("=")
        if not sep or not sid or not flow:
            refuse(f"--subflow {item!r}: write FLOW_SID=NAME, e.g. --subflow FW0123456789abcdef0123456789abcdef=billing")
        mapping[sid.strip()] = flow.strip()
    kind = trigger.value if trigger is not None else None
    if kind is None and account is not None:
        found = loaded.catalog.accounts.get(account)
        kind = found.spec.channel if found is not None else None
    from controller.manifests import twilio  # only for imports from Twilio Studio

    _, friendly = twilio.definition_of(data)
    default_name = draft.slug(friendly or file.name.split(".")[0])
    return twilio.convert(data, name or default_name, kind, account, mapping, display_name, remark)


@app.command()
def generate(
    requirement: str = typer.Argument(..., help="What the flow should do, in plain language."),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Name of the new flow (default: the one the model proposes)."),
    trigger: Optional[Trigger] = typer.Option(None, "--trigger", "-t", help="What starts the flow (default: the model's choice)."),
    account: Optional[str] = typer.Option(None, "--account", "-a", help="Bind this Account (message triggers only)."),
    rounds: int = typer.Option(3, "--rounds", min=0, max=10, help="Repair rounds after the first draft (0-10)."),
    stream: bool = typer.Option(True, "--stream/--no-stream", help="Show the answer as it is written (server-sent events)."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
) -> None:
    """Draft a flow with an LLM, validate it, and write flows.d/NAME.yaml only when it is valid.

    \b
    Any OpenAI-compatible chat completions endpoint works, Qwen's compatible mode included:
      CHATFLOW_LLM_BASE_URL   e.g. https://dashscope-intl.aliyuncs.com/compatible-mode/v1
      CHATFLOW_LLM_MODEL      e.g. qwen-plus
      CHATFLOW_LLM_API_KEY    the endpoint's key (never printed)
      CHATFLOW_LLM_TIMEOUT    seconds to wait for an answer (default 120)

    The model gets the manifest JSON Schema and a component guide; each draft is validated against
    the manifest root and its diagnostics go back to the model for repair, up to --rounds times.
    Progress (the streamed answer and each round) goes to standard error.

    \b
    Examples:
      chatflow generate "Ask for an order number and look it up at https://shop.example.com/api/orders/ID" --trigger whatsapp
      chatflow generate "A 1-5 satisfaction survey with a comment when the score is low" --name csat --rounds 5
    """
    if name is not None:
        _check_name(name)
    if not requirement.strip():
        refuse("the requirement is empty: describe what the flow should do")
    ws = workspace(repo, root, None)
    loaded = Root.load(ws.root, Path.cwd())
    if name is not None:
        target = ws.root / f"{name}.yaml"
        taken = draft.target_problem(loaded, target, ws.shown(target), name)
        if taken:
            refuse(taken)
    kind = trigger.value if trigger is not None else None
    if account is not None:
        found = loaded.catalog.accounts.get(account)
        _check_account(loaded, account, kind or (found.spec.channel if found is not None else "whatsapp"))
        kind = kind or found.spec.channel  # type: ignore[union-attr]
    from . import generate as llm  # httpx and the prompts: only this command needs them

    try:
        endpoint = llm.Endpoint.from_env()
    except llm.LlmError as exc:
        refuse(str(exc))
    messages = [{"role": "system", "content": llm.system_prompt()},
                {"role": "user", "content": llm.request_prompt(requirement, name, kind)}]
    total = rounds + 1
    problems: List[str] = []
    for round_no in range(1, total + 1):
        doing = "drafting" if round_no == 1 else f"repairing {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        err_console.print(f"[bold]round {round_no}/{total}[/bold]: {doing} with {_escape(endpoint.model)} at {_escape(endpoint.url)}")
        try:
            if stream:
                answer = llm.complete(endpoint, messages, True, _echo)
                err_console.file.write("\n")
            else:
                with err_console.status(f"waiting for {endpoint.model}..."):
                    answer = llm.complete(endpoint, messages, False)
                err_console.print(f"received {len(answer)} characters")
        except llm.LlmError as exc:
            refuse(str(exc))
        messages.append({"role": "assistant", "content": answer})
        drafted = _drafted(answer, requirement, name, kind, account, ws, loaded)
        problems = drafted.problems
        if not problems:
            err_console.print(f"round {round_no}/{total}: the draft is valid")
            target, warnings = write_new(ws, loaded, drafted.name, drafted.text)
            report_created(ws, target, drafted.name, drafted.trigger, account, 0, warnings, _secrets(drafted.data),
                           f"generated by {endpoint.model} in {round_no} round{'s' if round_no != 1 else ''}")
            return
        err_console.print(f"round {round_no}/{total}: the draft has {len(problems)} problem{'s' if len(problems) != 1 else ''}")
        for problem in problems[:5]:
            err_console.print(f"  {_escape(problem)}")
        messages.append({"role": "user", "content": llm.repair_prompt(drafted.text or answer, problems)})
    refuse(f"no valid manifest after {total} round{'s' if total != 1 else ''}; the last draft's problems:\n"
           + "\n".join(f"  {p}" for p in problems))


def _echo(token: str) -> None:
    err_console.file.write(token)
    err_console.file.flush()


@dataclass(frozen=True)
class _Drafted:
    """One round's draft as it would be written, and what keeps it from being written."""

    text: str = ""
    name: str = ""
    trigger: str = ""
    data: Any = None
    problems: List[str] = field(default_factory=list)


def _drafted(answer: str, requirement: str, name: Optional[str], kind: Optional[str], account: Optional[str],
             ws: Workspace, loaded: Root) -> _Drafted:
    """The model's answer as a manifest for this repository: named, unpublished, bound as asked, and checked."""
    from .generate import extract_yaml

    found = extract_yaml(answer)
    if found is None:
        return _Drafted(problems=["the answer holds no ```yaml block with the manifest"])
    parsed = parse(SourceFile("draft.yaml", found))
    if parsed.diagnostics:
        return _Drafted(text=found, problems=[str(d) for d in parsed.diagnostics])
    flows = [d.data for d in parsed.documents if isinstance(d.data, dict) and d.data.get("kind") == "Flow"]
    if not flows:
        return _Drafted(text=found, problems=["the answer holds no document with `kind: Flow`"])
    data = flows[0]
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    proposed = metadata.get("name")
    chosen = name
    if chosen is None:
        base = proposed if isinstance(proposed, str) and draft.name_problem(proposed) is None else \
            draft.slug(str(metadata.get("displayName") or requirement)[:40])
        chosen = _free_name(base, loaded, ws)
    metadata["name"] = chosen
    trigger = spec.get("trigger") if isinstance(spec.get("trigger"), dict) else {}
    if kind is not None:
        trigger["type"] = kind
    spec = {"state": "unpublished", **{k: v for k, v in spec.items() if k != "state"}}
    spec["trigger"] = portable.bind(trigger, account)
    data = {"apiVersion": data.get("apiVersion", "chatflow/v1"), "kind": "Flow", "metadata": metadata, "spec": spec,
            **{k: v for k, v in data.items() if k not in ("apiVersion", "kind", "metadata", "spec")}}
    target = ws.root / f"{chosen}.yaml"
    text = draft.dump([data], draft.modeline(target, ws.repo))
    problem = draft.target_problem(loaded, target, ws.shown(target), chosen)
    if problem:
        refuse(problem)
    errors = [str(d) for d in loaded.check(ws.shown(target), text) if d.is_error]
    return _Drafted(text, chosen, str(trigger.get("type", "")), data, errors)


def _free_name(base: str, loaded: Root, ws: Workspace) -> str:
    taken = loaded.names("Flow")
    candidate, n = base, 2
    while candidate in taken or (ws.root / f"{candidate}.yaml").exists():
        suffix = f"-{n}"
        candidate = base[: 63 - len(suffix)] + suffix
        n += 1
    return candidate
