"""The composition root of `chatflow serve`: source, store, reconciler, loop, watcher, runtime, HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncIterator, Callable

import structlog
import uvicorn

from controller.engine.http import HttpClient
from controller.engine.messages import InboundEvent
from controller.engine.llm import LlmClient
from controller.engine.services import Services
from controller.reconcile.loop import ReconcileLoop
from controller.reconcile.readiness import secret_readiness
from controller.reconcile.reconciler import Outcome, Reconciler
from controller.source import watch
from controller.source.git import GitSource
from controller.source.remote import RemoteSource, is_url, redact_url
from controller.runtime.dispatcher import DispatchConfig
from controller.runtime.host import Done, Runtime, session_ids
from controller.runtime.live import LiveFlows
from controller.runtime.privacy import EventPolicy
from controller.runtime.retention import Pruner, RetentionPolicy
from controller.runtime.scheduler import Scheduler
from controller.runtime.settings import SettingError
from controller.runtime.worker import OutboxWorker
from controller.store.paths import default_state
from controller.store.sqlite import SQLiteStore

from .app import Context, Settings, build_app
from . import openapi
from .metrics import Metrics
from .runtime_api import RuntimeApi
from .webhooks import Webhooks

log = structlog.get_logger("chatflow.serve")

# gen0 allocations, then gen0 and gen1 collections per older one. A young collection walks what
# is young: at 50,000 one took ~15 ms, at 10,000 ~2 ms for the same total (bench/README.md).
GC_THRESHOLDS = (10_000, 20, 100)


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
            state = config.state or default_state(self.source.root_dir)
        self.store = SQLiteStore(state)
        self.reconciler = Reconciler(self.store, self.source, config.root.strip("/"), self.source.root_dir / config.root)
        self.reconciler.readiness = secret_readiness
        self.counts = SQLiteStore(state)  # scrape-time counts never wait behind the runtime's reads
        self.metrics = Metrics(self.store, self.counts)
        self.loop = ReconcileLoop(self.metrics.timed(self._run_once), config.poll_interval)
        self._first = True
        self.ctx = Context(self.store, self.loop, self.reconciler, Settings.from_env(config.host, label, self.branch),
                           metrics=self.metrics)
        self._wire_runtime()
        self.app = self.webhooks.first(build_app(self.ctx, lifespan=self._lifespan))

    def _wire_runtime(self) -> None:
        """The runtime serves the live set from the store at once (after a restart, before the
        first reconcile) and swaps in each reconcile's result; secrets are resolved at use."""
        self.retention = RetentionPolicy.from_env()
        self.flows = LiveFlows(self.store, EventPolicy.from_env())
        self.reconciler.on_live_change(self._live_changed)
        self.http = HttpClient()
        self.reads = SQLiteStore(self.store.path)  # WAL: the runtime's reads never wait for a commit
        services = Services(http=self.http, llm=LlmClient(http=self.http), new_id=session_ids())
        self.runtime = Runtime(self.store, self.flows, services, reads=self.reads)
        DispatchConfig.from_env()  # a bad setting stops serve now, not the worker later
        self.worker = OutboxWorker(Path(self.store.path), self._worker_exited)
        self.scheduler = Scheduler(self.reads, self.runtime)
        self.pruner = Pruner(self.store, self.retention)
        self.runtime.on_messages = self.worker.wake
        self.runtime.on_deadline = self.scheduler.wake
        self.runtime.on_event = self._event_handled
        self.webhooks = Webhooks(self.runtime, self.metrics)
        self.ctx.extra_routes += [*self.webhooks.routes(), *RuntimeApi(self.ctx, self.runtime).routes(),
                                  *openapi.routes()]
        self.exit_code = 0
        self.stop_serving: Callable[[], None] = lambda: None

    def _event_handled(self, event: InboundEvent, done: Done) -> None:
        if not done.duplicate:
            self.metrics.event_processed(event.channel, event.kind)

    def _live_changed(self, outcome: Outcome) -> None:
        self.flows.refresh()
        self.worker.refresh()

    def _worker_exited(self, code: int) -> None:
        self.exit_code = code or 1
        self.stop_serving()

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
        # Everything loaded so far lives as long as the process: keep the collector from walking
        # it again and again, and collect the young less often than the default (measured: p99
        # 76 -> 23 ms, bench/), in pauses short enough not to show in the tail.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        self.worker.start()
        tasks = [asyncio.create_task(self.loop.run(stop), name="reconcile-loop"),
                 asyncio.create_task(self.worker.watch(), name="outbox-worker")]
        runtime_tasks = [asyncio.create_task(self.scheduler.run(stop), name="timers"),
                         asyncio.create_task(self.pruner.run(stop), name="retention")]
        if not isinstance(self.source, RemoteSource):
            tasks.append(asyncio.create_task(self._watch(stop), name="watch"))
        log.info("serving", source=self.ctx.settings.source_label, branch=self.branch, root=self.config.root,
                 host=self.config.host, port=self.config.port, **http_stack())
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            # timers being fired finish their transaction; then the sends in flight are recorded
            await asyncio.gather(*tasks, *runtime_tasks, return_exceptions=True)
            await asyncio.to_thread(self.worker.stop)
            self.runtime.close()
            self.http.close()
            self.reads.close()
            self.counts.close()
            self.store.close()
            self.source.close()
            committer = self.runtime.committer
            log.info("stopped", commits=committer.batches, units=committer.units, busy=committer.busy,
                     rebuilds=self.runtime.rebuilds)

    async def _watch(self, stop: asyncio.Event) -> None:
        root = self.source.root_dir / self.config.root if self.config.worktree else None
        try:
            async for _ in watch.changes(self.source.root_dir, stop, root):
                self.loop.trigger("watch")
        except Exception as exc:  # watching is an optimisation: polling and the hook still work
            log.warning("file watching stopped", error=str(exc))


def http_stack() -> dict[str, str]:
    """What uvicorn serves on, with its HTTP implementation and loop left at "auto" (as `run` does):
    its C parser and uvloop when installed (the `fast` extra), else h11 on asyncio."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    http = "httptools" if AutoHTTPProtocol.__name__ == "HttpToolsProtocol" else "h11"
    return {"http": http, "loop": type(asyncio.get_running_loop()).__module__.partition(".")[0]}


def run(config: ServeConfig) -> None:
    try:
        service = Service(config)
    except SettingError as exc:
        raise SystemExit(f"error: {exc}") from None
    # access_log off: at level warning its lines were never shown, yet every response built one
    server = uvicorn.Server(uvicorn.Config(service.app, host=config.host, port=config.port, log_level="warning",
                                           access_log=False, lifespan="on", timeout_graceful_shutdown=10))
    service.stop_serving = lambda: setattr(server, "should_exit", True)
    server.run()
    if service.exit_code:
        raise SystemExit(service.exit_code)
