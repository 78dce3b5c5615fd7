"""Prometheus metrics: one registry per app, counters the server increments, gauges read from the store at scrape time."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from controller.channels.registry import ADAPTERS
from controller.reconcile.reconciler import Outcome
from controller.store.base import StateStore
from controller.store.records import OUTBOX_STATUSES, UNSENT

log = structlog.get_logger("chatflow.metrics")

CONTENT_TYPE = CONTENT_TYPE_LATEST
FLOW_STATES = ("published", "unpublished")
CHANNELS = tuple(ADAPTERS)  # their series are always present, 0 until used
LIVE_STATUSES = ("active", "waiting", "handed_over")
OUTCOMES = {200: "ok", 400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "not_allowed", 413: "too_large", 503: "unavailable"}
RUNTIME_FAMILIES = (("chatflow_outbox_depth", ["channel"]), ("chatflow_outbox_messages", ["channel", "status"]),
                    ("chatflow_outbox_repeats", ["channel"]), ("chatflow_active_sessions", ["status"]),
                    ("chatflow_timers_pending", []))
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Every metric of one app (docs/observability.md lists them).

    The reconcile loop is wrapped with `timed`; the webhooks call `webhook_request` and the
    runtime `event_processed` as things happen. What the runtime holds (outbox, sessions, timers)
    and what the outbox worker (a process of its own) did is read from the store at scrape time,
    by `RuntimeCollector`, so it is right whichever process or replica did the work.
    """

    def __init__(self, store: StateStore | None = None, counts: StateStore | None = None) -> None:
        """`store` answers the flow and condition gauges; `counts` (default: `store`) the runtime's,
        best a connection of their own so that a scrape never waits for a commit."""
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
        self.webhook_requests = Counter("chatflow_webhook_requests", "Channel webhook requests answered, by channel and "
                                        "outcome.", ["channel", "outcome"], registry=r)
        self.events_processed = Counter("chatflow_events_processed", "Inbound channel events applied (a redelivered "
                                        "duplicate is not counted again), by channel and kind.", ["channel", "type"],
                                        registry=r)
        self._children: dict[tuple[Counter, str, str], Any] = {}  # labels() takes a lock per call
        if store is not None:
            r.register(StoreCollector(store))
            r.register(RuntimeCollector(counts or store))

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
    def webhook_request(self, channel: str, status: int) -> None:
        """One webhook request answered with `status` (the outcome label names it, docs/observability.md);
        `channel` must be a known channel's name or `unknown`, so a caller cannot make up series."""
        self._child(self.webhook_requests, channel, OUTCOMES.get(status, "error")).inc()

    def event_processed(self, channel: str, kind: str) -> None:
        """One inbound event applied (message, status, conversation_started, unsubscribed...)."""
        self._child(self.events_processed, channel, kind).inc()

    def _child(self, counter: Counter, first: str, second: str) -> Any:
        """The labelled series, looked up once: these two counters move with every webhook."""
        key = (counter, first, second)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = counter.labels(first, second)
        return child

    # -- exposition -------------------------------------------------------------------------------
    def exposition(self) -> bytes:
        """The text format of every metric (blocking: the collectors read the store)."""
        return generate_latest(self.registry)


class RuntimeCollector(Collector):
    """The outbox, sessions and timers, counted from the store at scrape time. A store that cannot
    answer is logged and its families left out: the other metrics are still served."""

    def __init__(self, store: StateStore) -> None:
        self.store = store

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(name, "", labels=labels) for name, labels in RUNTIME_FAMILIES]

    def collect(self) -> Iterable[Metric]:
        try:
            counts = self.store.counts()
        except Exception as exc:
            log.warning("runtime metrics unavailable", error=f"{type(exc).__name__}: {exc}")
            return
        channels = sorted({c for c, _ in counts.outbox} | set(CHANNELS))
        depth = GaugeMetricFamily("chatflow_outbox_depth", "Messages waiting in the outbox (pending or being sent), by "
                                  "channel.", labels=["channel"])
        results = GaugeMetricFamily("chatflow_outbox_messages", "Outbox messages kept (sent ones for the outbox "
                                    "retention, 8 days), by channel and status: pending, sending, sent, delivered, "
                                    "read, failed.", labels=["channel", "status"])
        repeats = GaugeMetricFamily("chatflow_outbox_repeats", "Sends of kept outbox messages that may have reached "
                                    "the contact twice (a timeout or crash after the channel accepted one), by "
                                    "channel.", labels=["channel"])
        for channel in channels:
            depth.add_metric([channel], sum(counts.outbox.get((channel, s), 0) for s in UNSENT))
            for status in OUTBOX_STATUSES:
                results.add_metric([channel, status], counts.outbox.get((channel, status), 0))
            repeats.add_metric([channel], counts.repeats.get(channel, 0))
        sessions = GaugeMetricFamily("chatflow_active_sessions", "Conversations not ended, by status (active, waiting, "
                                     "handed_over).", labels=["status"])
        for status in LIVE_STATUSES:
            sessions.add_metric([status], counts.sessions.get(status, 0))
        timers = GaugeMetricFamily("chatflow_timers_pending", "Timers set and not fired yet (question timeouts, delays, "
                                   "handoff timeouts, expiry).")
        timers.add_metric([], counts.timers)
        yield from (depth, results, repeats, sessions, timers)


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
