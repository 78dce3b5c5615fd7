"""The composition root of `chatflow serve`: source, store, reconciler, loop, watcher, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator

import structlog
import uvicorn

from controller.reconcile.loop import ReconcileLoop
from controller.reconcile.readiness import secret_readiness
from controller.reconcile.reconciler import Outcome, Reconciler
from controller.source import watch
from controller.source.git import GitSource
from controller.source.remote import RemoteSource, is_url, redact_url
from controller.store.sqlite import SQLiteStore

from .app import Context, Settings, build_app
from .metrics import Metrics

log = structlog.get_logger("chatflow.serve")


@dataclass(frozen=True)
class ServeConfig:
    repo: str  # a local path or a URL
    root: str = "flows.d"
    branch: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    state: Path | None = None
    worktree: bool = False
    poll_interval: float = 60.0
    cache_dir: Path | None = None


def parse_interval(text: str | None, default: float = 60.0) -> float:
    if not text:
        return default
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * units[unit]
    return float(text)


class Service:
    """Everything `serve` runs, wired together; `app` is the ASGI application."""

    def __init__(self, config: ServeConfig) -> None:
        self.config = config
        if is_url(config.repo):
            cache = config.cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "chatflow" / "repos"
            self.source: GitSource = RemoteSource(config.repo, cache, config.branch)
            self.branch = self.source.branch  # type: ignore[attr-defined]
            label = redact_url(config.repo)
            state = config.state or cache / (Path(self.source.root_dir).name + ".state.db")
        else:
            self.source = GitSource(Path(config.repo))
            self.branch = config.branch or self.source.current_branch() or "HEAD"
            label = str(self.source.root_dir)
            state = config.state or self.source.root_dir / ".chatflow" / "state.db"
        self.store = SQLiteStore(state)
        self.reconciler = Reconciler(self.store, self.source, config.root.strip("/"), self.source.root_dir / config.root)
        self.reconciler.readiness = secret_readiness
        self.metrics = Metrics(self.store)
        self.loop = ReconcileLoop(self.metrics.timed(self._run_once), config.poll_interval)
        self._first = True
        self.ctx = Context(self.store, self.loop, self.reconciler, Settings.from_env(config.host, label, self.branch),
                           metrics=self.metrics)
        self.app = build_app(self.ctx, lifespan=self._lifespan)

    def _run_once(self) -> Outcome:
        force, self._first = self._first, False  # refresh status (e.g. secrets) once at start
        if isinstance(self.source, RemoteSource):
            self.source.fetch()
            return self.reconciler.reconcile(self.source.tracked, force=force)
        if self.config.worktree:
            return self.reconciler.reconcile_worktree(force=force)
        return self.reconciler.reconcile(self.branch, force=force)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self.loop.run(stop), name="reconcile-loop")]
        if not isinstance(self.source, RemoteSource):
            tasks.append(asyncio.create_task(self._watch(stop), name="watch"))
        log.info("serving", source=self.ctx.settings.source_label, branch=self.branch, root=self.config.root,
                 host=self.config.host, port=self.config.port)
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self.store.close()
            self.source.close()
            log.info("stopped")

    async def _watch(self, stop: asyncio.Event) -> None:
        root = self.source.root_dir / self.config.root if self.config.worktree else None
        try:
            async for _ in watch.changes(self.source.root_dir, stop, root):
                self.loop.trigger("watch")
        except Exception as exc:  # watching is an optimisation: polling and the hook still work
            log.warning("file watching stopped", error=str(exc))


def run(config: ServeConfig) -> None:
    service = Service(config)
    uvicorn.run(service.app, host=config.host, port=config.port, log_level="warning", lifespan="on",
                timeout_graceful_shutdown=10)
