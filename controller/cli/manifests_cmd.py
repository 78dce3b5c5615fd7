"""`chatflow validate`, `chatflow schema` and `chatflow migrate`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

if TYPE_CHECKING:  # loading pulls in ruamel.yaml and the models: imported when a command runs
    from controller.manifests.catalog import Catalog

from .context import RepoOption, RootOption, workspace
from .main import app
from .output import Format, console, emit_json, err_console, print_diagnostics


def load_with(root: Path, extra: list[Path]) -> tuple[Catalog, int]:
    """Load the manifest root plus any extra paths outside it; diagnostics are relative to cwd."""
    from controller.manifests.catalog import from_load
    from controller.manifests.loader import discover, load_paths

    files = discover(root) if root.exists() else []
    seen = {f.resolve() for f in files}
    for p in extra:
        for f in discover(p):
            if f.resolve() not in seen:
                seen.add(f.resolve())
                files.append(f)
    result = load_paths(files, Path.cwd())
    return from_load(result, root), len(files)


@app.command()
def validate(
    paths: Optional[List[Path]] = typer.Argument(None, help="Files or folders to report on (default: the manifest root)."),
    strict: bool = typer.Option(False, "--strict", help="Treat warnings as errors."),
    output: Format = typer.Option(Format.text, "-o", "--output", help="text for people, json for programs."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
) -> None:
    """Validate manifests: schema, flow graph, templates, accounts, channel limits, secrets.

    References (accounts, flows named by tests and start_flow) resolve against the whole manifest
    root, while only the PATHs given are reported. Exit 0 when there are no errors (warnings are
    allowed unless --strict), 1 otherwise.

    \b
    Examples:
      chatflow validate                    # the whole flows.d/
      chatflow validate flows.d/faq.yaml   # one file, checked against the rest
      chatflow validate -o json --strict
    """
    from controller.manifests.diagnostics import sort_key
    from controller.manifests.loader import discover

    ws = workspace(repo, root, None)
    targets = [p for p in (paths or [])]
    missing = [p for p in targets if not p.exists()]
    if missing:
        err_console.print(f"[red]error:[/red] no such file or folder: {', '.join(map(str, missing))}")
        raise typer.Exit(2)
    if not targets and not ws.root.exists():
        err_console.print(
            f"[red]error:[/red] manifest root {ws.shown(ws.root)} does not exist; "
            "pass a PATH, or --root, or create it with `chatflow new NAME --trigger manual`"
        )
        raise typer.Exit(2)
    catalog, count = load_with(ws.root, targets)
    from controller.engine import flowtest

    catalog.diagnostics.extend(flowtest.diagnostics(catalog))  # DESIGN §5: validate runs FlowTests
    if targets:
        shown = [ws.shown(p) if p.is_absolute() else str(p).rstrip("/") for p in targets]
        diagnostics = catalog.for_paths([s if s != "." else "" for s in shown]) if "." not in shown else catalog.diagnostics
        count = sum(len(discover(p)) for p in targets)
    else:
        diagnostics = catalog.diagnostics
    if strict:
        diagnostics = [d.as_error() for d in diagnostics]
    diagnostics.sort(key=sort_key)
    failed = any(d.is_error for d in diagnostics)
    if output is Format.json:
        emit_json(
            {
                "ok": not failed,
                "files": count,
                "errors": sum(1 for d in diagnostics if d.is_error),
                "warnings": sum(1 for d in diagnostics if not d.is_error),
                "diagnostics": [d.to_json() for d in diagnostics],
            }
        )
    else:
        print_diagnostics(diagnostics, count)
    raise typer.Exit(1 if failed else 0)


@app.command("schema")
def schema_cmd(
    check: bool = typer.Option(False, "--check", help="Fail (exit 1) when the files are missing or stale; write nothing."),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder to write (default: <repo>/schemas)."),
    repo: Optional[Path] = RepoOption,
) -> None:
    """Write the JSON Schemas of the manifest kinds to schemas/.

    Editors use them through the modeline at the top of each manifest:
      # yaml-language-server: $schema=../schemas/chatflow.schema.json
    CI runs `chatflow schema --check` so the checked-in files never go stale.

    \b
    Examples:
      chatflow schema
      chatflow schema --check
      chatflow schema --out build/schemas
    """
    from controller.manifests import schema

    ws = workspace(repo, "flows.d", None)
    directory = out or ws.repo / "schemas"
    if check:
        stale = schema.stale(directory)
        if stale:
            err_console.print(f"[red]stale:[/red] {', '.join(stale)} in {ws.shown(directory)}; run `chatflow schema` and commit")
            raise typer.Exit(1)
        console.print(f"schemas in {ws.shown(directory)} are current")
        return
    written = schema.write(directory)
    console.print(f"wrote {len(written)} file(s) to {ws.shown(directory)}" if written else f"schemas in {ws.shown(directory)} are current")


@app.command()
def migrate(
    write: bool = typer.Option(False, "--write", help="Rewrite the files in place (comments kept)."),
    repo: Optional[Path] = RepoOption,
    root: str = RootOption,
) -> None:
    """Upgrade manifests to the current apiVersion, one ordered step per version.

    Without --write it lists what would change and exits 1 when anything is out of date.

    \b
    Examples:
      chatflow migrate
      chatflow migrate --write
    """
    from controller.manifests import migrations
    from controller.manifests.loader import discover

    ws = workspace(repo, root, None)
    outdated = failed = 0
    for path in discover(ws.root) if ws.root.exists() else []:
        try:
            result = migrations.migrate_text(path.read_bytes().decode("utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            err_console.print(f"{ws.shown(path)}: [red]cannot read[/red]: {exc}; run `chatflow validate` for details")
            failed += 1
            continue
        if result.error:
            err_console.print(f"{ws.shown(path)}: [red]not migrated[/red]: {result.error}; run `chatflow validate` for details")
            failed += 1
            continue
        if result.changed:
            outdated += 1
            console.print(f"{ws.shown(path)}: {'; '.join(result.summaries)}")
            if write:
                path.write_text(result.text, encoding="utf-8")
    if failed:
        raise typer.Exit(1)
    if outdated == 0:
        console.print(f"every manifest is current ({migrations.CURRENT})")
        return
    if write:
        console.print(f"migrated {outdated} file{'s' if outdated != 1 else ''} to {migrations.CURRENT}")
    else:
        console.print(f"{outdated} file{'s' if outdated != 1 else ''} to migrate: run `chatflow migrate --write`")
        raise typer.Exit(1)
