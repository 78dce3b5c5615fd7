"""Where a command works: the repository, the manifest root and the state file (DESIGN §5)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import typer

from controller.store.paths import default_state

RepoOption = typer.Option(None, "--repo", help="Git repository holding the manifests (default: the one around the working directory).")
RootOption = typer.Option("flows.d", "--root", help="Manifest root inside the repository.")
StateOption = typer.Option(None, "--state", help="State database (default: <repo>/.chatflow/state.db).")


@dataclass(frozen=True)
class Workspace:
    repo: Path
    root: Path
    state: Path

    def shown(self, path: Path) -> str:
        """A path as the user sees it: relative to the working directory when below it."""
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def require_state(self, hint: str) -> Path:
        """The state file, or exit 2 saying it is missing and what `hint` says creates it."""
        if not self.state.exists():
            from rich.markup import escape

            from .output import err_console

            err_console.print(f"[red]error:[/red] {escape(f'no state at {self.shown(self.state)}; {hint}')}")
            raise typer.Exit(2)
        return self.state


def find_repo(start: Path) -> Path:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=start, capture_output=True, text=True, check=True
        )
        return Path(out.stdout.strip())
    except (subprocess.CalledProcessError, FileNotFoundError):
        return start


def workspace(repo: Path | None, root: str, state: Path | None) -> Workspace:
    base = (repo or find_repo(Path.cwd())).resolve()
    root_path = Path(root)
    if not root_path.is_absolute():
        root_path = base / root_path
    state_path = state or Path(os.environ.get("CHATFLOW_STATE", default_state(base)))
    return Workspace(base, root_path, state_path)
