"""`chatflow serve`: reconciler + runtime + HTTP in one process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from controller.source.git import SourceError

from .main import app
from .output import err_console


@app.command()
def serve(
    repo: Optional[str] = typer.Option(None, "--repo", help="A local repository path or a git URL (default: the repository around the working directory)."),
    branch: Optional[str] = typer.Option(None, "--branch", help="Branch to track (default: the current branch; for a URL, the remote's default)."),
    root: str = typer.Option("flows.d", "--root", help="Manifest root inside the repository."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on. Off loopback, the API needs CHATFLOW_API_TOKEN."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    state: Optional[Path] = typer.Option(None, "--state", help="State database (default: <repo>/.chatflow/state.db)."),
    worktree: bool = typer.Option(False, "--worktree", help="Serve the files on disk instead of the tracked commit (local editing)."),
    poll: Optional[str] = typer.Option(None, "--poll", help="Poll interval as a safety net, e.g. 60s (default: $CHATFLOW_POLL_INTERVAL or 60s)."),
) -> None:
    """Run the controller: watch the repository, publish what merges, serve webhooks and the API.

    Changes are picked up three ways: watching the repository's refs, `POST /hooks/git` (a
    GitHub/GitLab/Gitea push webhook; set CHATFLOW_GIT_HOOK_SECRET to accept it from other
    hosts), and a poll interval. Status is at GET /status, health at /healthz and /readyz.

    \b
    Examples:
      chatflow serve                                 # this repo's flows.d on 127.0.0.1:8080
      chatflow serve --worktree                      # edit files and see them live, no commit
      chatflow serve --repo https://git.example.com/acme/flows.git --branch main --host 0.0.0.0
    """
    from controller.logs import configure
    from controller.web.server import ServeConfig, parse_interval, run

    if host not in ("127.0.0.1", "localhost", "::1") and not os.environ.get("CHATFLOW_API_TOKEN"):
        err_console.print("[yellow]warning:[/yellow] not bound to loopback and CHATFLOW_API_TOKEN is unset: "
                          "the API and status answer 401 to everyone")
    try:
        interval = parse_interval(poll or os.environ.get("CHATFLOW_POLL_INTERVAL"))
    except ValueError:
        err_console.print(f"[red]error:[/red] poll interval {poll!r} is not a duration like 30s or 5m")
        raise typer.Exit(2)
    configure()
    config = ServeConfig(repo or os.getcwd(), root, branch, host, port, state, worktree, interval)
    try:
        run(config)
    except SourceError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2)
