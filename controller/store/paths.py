"""Where the state database lives by default: `<repo>/.chatflow/state.db`. No other imports, so
the CLI can name the path without loading the store."""

from __future__ import annotations

from pathlib import Path

STATE_DIR = ".chatflow"  # the default state directory, in the repository's worktree; it ignores itself in git


def default_state(repo: Path) -> Path:
    return repo / STATE_DIR / "state.db"
