"""Change notification for a local repository: watchfiles on its refs (and files with --worktree)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator

from watchfiles import Change, awatch

from controller.store.paths import STATE_DIR


def _git_dir(repo: Path) -> Path:
    dot = repo / ".git"
    if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
        target = dot.read_text().split(":", 1)[1].strip()
        return (repo / target).resolve()
    return dot if dot.is_dir() else repo


def _refs_filter(git_dir: Path):
    git_dir_s = str(git_dir)

    def keep(change: Change, path: str) -> bool:
        if not path.startswith(git_dir_s):
            return not path.endswith((".swp", "~")) and f"/{STATE_DIR}/" not in path and "/.git/" not in path
        rel = path[len(git_dir_s):].lstrip("/")
        return rel in ("HEAD", "packed-refs", "FETCH_HEAD") or rel.startswith("refs/")

    return keep


async def changes(repo: Path, stop: asyncio.Event, worktree_root: Path | None = None) -> AsyncIterator[set[str]]:
    """Yield the changed paths whenever refs (or, with a worktree root, manifest files) change."""
    git_dir = _git_dir(repo)
    paths = [git_dir]
    if worktree_root is not None and worktree_root.exists():
        paths.append(worktree_root)
    async for batch in awatch(*paths, watch_filter=_refs_filter(git_dir), stop_event=stop, debounce=50, step=20,
                              recursive=True, force_polling=False):
        yield {p for _, p in batch}
