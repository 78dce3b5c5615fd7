"""The `chatflow` command line: one typer app, commands registered from their modules."""

from __future__ import annotations

import typer

from controller import __version__

app = typer.Typer(
    name="chatflow",
    help=(
        "chatflow: chat flows as code.\n\n"
        "Flows are YAML manifests in a git repository (default root: flows.d/). "
        "Validate them, see what merging would change (plan), publish them by merging (apply/serve), "
        "and run them on WhatsApp, Messenger, Instagram and Viber.\n\n"
        "Start with:  chatflow validate flows.d"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chatflow {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    pass


def _register() -> None:
    from . import create_cmd, lifecycle_cmd, logs_cmd, manifests_cmd, observe_cmd, serve_cmd, sessions_cmd, test_cmd  # noqa: F401  (each registers its commands)


_register()


def main() -> None:
    app()
