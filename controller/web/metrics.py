"""Prometheus metrics: one registry per app, counters the host increments, gauges read from the store at scrape time."""

from __future__ import annotations

import threading
import time
from typing import Callable, Iterable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.reconcile.reconciler import Outcome
from controller.store.base import StateStore

log = structlog.get_logger("chatflow.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
FLOW_STATES = ("published", "unpublished")
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

Sampler = Callable[["Metrics"], None]


class Metrics:
    """Every metric of one app (docs/observability.md lists them).

    The reconcile loop is wrapped with `timed`; the runtime calls `webhook_request`,
    `event_processed`, `send_result` as things happen and sets the gauges that describe its
    queues (outbox depth, sessions, timers), either directly or from a sampler registered with
    `add_sampler`, which runs just before each scrape.
    """

    def __init__(self, store: StateStore | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.reconciles = Counter("chatflow_reconciles", "Reconciles run, by result: ok, blocked, invalid, "
                                  "unchanged (the commit was already reconciled) or error.", ["result"], registry=r)
        self.reconcile_duration = Histogram("chatflow_reconcile_duration_seconds", "How long a reconcile that read a "
                                            "commit took (unchanged ones are not observed).", buckets=RECONCILE_BUCKETS,
                                            registry=r)
        self.reconcile_failures = Gauge("chatflow_reconcile_consecutive_failures", "Reconciles that failed in a row "
                                        "(0 after a success).", registry=r)
        self.last_success = Gauge("chatflow_reconcile_last_success_timestamp_seconds", "Unix time of the last reconcile "
                                  "that did not fail.", registry=r)
        self.webhook_requests = Counter("chatflow_webhook_requests", "Channel webhook requests, by channel and outcome.",
                                        ["channel", "outcome"], registry=r)
        self.events_processed = Counter("chatflow_events_processed", "Inbound channel events handled (committed), by "
                                        "channel and event type.", ["channel", "type"], registry=r)
        self.outbox_sends = Counter("chatflow_outbox_sends", "Outbox send attempts, by channel and result.",
                                    ["channel", "result"], registry=r)
        self.outbox_depth = Gauge("chatflow_outbox_depth", "Messages waiting in the outbox, by channel.", ["channel"],
                                  registry=r)
        self.active_sessions = Gauge("chatflow_active_sessions", "Conversations not ended, by status (active, waiting, "
                                     "handed_over).", ["status"], registry=r)
        self.timers_pending = Gauge("chatflow_timers_pending", "Stored timers not fired yet.", registry=r)
        self._samplers: list[Sampler] = []
        self._lock = threading.Lock()
        if store is not None:
            r.register(StoreCollector(store))

    # -- reconciles -------------------------------------------------------------------------------
    def reconcile(self, result: str, seconds: float | None) -> None:
        """Count one reconcile; `seconds` is observed unless the commit was unchanged."""
        self.reconciles.labels(result).inc()
        if seconds is not None and result != "unchanged":
            self.reconcile_duration.observe(seconds)
        if result == "error":
            self.reconcile_failures.inc()
        else:
            self.reconcile_failures.set(0)
            self.last_success.set(time.time())

    def timed(self, run_once: Callable[[], Outcome]) -> Callable[[], Outcome]:
        """`run_once` counted and timed (errors too, then re-raised for the loop's backoff)."""

        def run() -> Outcome:
            started = time.perf_counter()
            try:
                outcome = run_once()
            except Exception:
                self.reconcile("error", time.perf_counter() - started)
                raise
            self.reconcile("unchanged" if outcome.skipped else outcome.result, time.perf_counter() - started)
            return outcome

        return run

    # -- the runtime's events ---------------------------------------------------------------------
    def webhook_request(self, channel: str, outcome: str) -> None:
        """One webhook request answered; outcome: ok, unauthorized, forbidden, not_found, unavailable,
        too_large, bad_request (docs/observability.md)."""
        self.webhook_requests.labels(channel, outcome).inc()

    def event_processed(self, channel: str, type: str) -> None:
        """One inbound event committed (message, postback, status...)."""
        self.events_processed.labels(channel, type).inc()

    def send_result(self, channel: str, result: str) -> None:
        """One outbox send attempt; result: sent, retry, failed."""
        self.outbox_sends.labels(channel, result).inc()

    def set_outbox_depth(self, channel: str, depth: int) -> None:
        self.outbox_depth.labels(channel).set(depth)

    def set_active_sessions(self, status: str, count: int) -> None:
        self.active_sessions.labels(status).set(count)

    def set_timers_pending(self, count: int) -> None:
        self.timers_pending.set(count)

    def add_sampler(self, sampler: Sampler) -> None:
        """Run `sampler(metrics)` before every scrape, to set gauges from the store."""
        with self._lock:
            self._samplers.append(sampler)

    # -- exposition -------------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The text format of every metric (blocking: samplers and collectors read the store)."""
        with self._lock:
            samplers = list(self._samplers)
        for sampler in samplers:
            try:
                sampler(self)
            except Exception as exc:  # a broken sampler must not take the other metrics down
                log.warning("metrics sampler failed", error=f"{type(exc).__name__}: {exc}")
        return generate_latest(self.registry)


class StoreCollector(Collector):
    """Flows by actual state and flows/accounts by condition, counted from the store at scrape time."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily("chatflow_flows", "", labels=["state"]),
                GaugeMetricFamily("chatflow_flow_conditions", "", labels=["type", "status", "reason"]),
                GaugeMetricFamily("chatflow_account_conditions", "", labels=["type", "status", "reason"])]

    def collect(self) -> Iterable[Metric]:
        actual = self.store.actual()
        conditions = self.store.all_conditions()
        flows = GaugeMetricFamily("chatflow_flows", "Flows in the store, by actual state.", labels=["state"])
        states = {s: 0 for s in FLOW_STATES}
        for record in actual.flows.values():
            states[record.state] = states.get(record.state, 0) + 1
        for state, count in states.items():
            flows.add_metric([state], count)
        yield flows
        for kind, name in (("Flow", "chatflow_flow_conditions"), ("Account", "chatflow_account_conditions")):
            family = GaugeMetricFamily(name, f"{kind}s by status condition (type, status, reason); Ready says whether "
                                       "it serves.", labels=["type", "status", "reason"])
            counts: dict[tuple[str, str, str], int] = {}
            for (k, _), conds in conditions.items():
                if k != kind:
                    continue
                for c in conds:
                    key = (c.type, c.status, c.reason)
                    counts[key] = counts.get(key, 0) + 1
            for key in sorted(counts):
                family.add_metric(list(key), counts[key])
            yield family
