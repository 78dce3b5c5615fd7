"""Prometheus metrics: per-app registries, reconciles counted and timed, store gauges at scrape time, the runtime's API."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller.engine.session import ConversationKey, Deadline, Session
from controller.reconcile.reconciler import Reconciler
from controller.source.git import GitSource, SourceError
from controller.store.records import NewMessage, SendResult, SessionWrite, Work
from controller.store.sqlite import SQLiteStore
from controller.web.metrics import Metrics

from ..conftest import PROJECT
from ..gitrepo import Repo, account, flow
from ..server import Server


T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.timezone.utc)
KEY = ConversationKey("whatsapp", "wa", "15550002222")


def outbox(text: str) -> NewMessage:
    return NewMessage(conversation=str(KEY), channel="whatsapp", account="wa", to=KEY.address, message={"text": text},
                      session_id="s1", flow="faq", revision="a1a1a1a1a1a1", node="ask", logging=False)


def samples(text: str | bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """name + sorted labels -> value, from the Prometheus text format."""
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(scraped, name: str, **labels: str) -> float | None:
    return scraped.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def repo(tmp_path):
    r = Repo(tmp_path / "repo")
    r.write("flows.d/wa.yaml", account())
    r.write("flows.d/faq.yaml", flow(text="v1"))
    r.write("flows.d/draft.yaml", flow("draft", state="unpublished", keywords=("draft",)))
    r.commit("first")
    return r


@pytest.fixture
def parts(repo, tmp_path):
    store = SQLiteStore(tmp_path / "state.db")
    source = GitSource(repo.path)
    yield store, Reconciler(store, source, "flows.d", repo.path / "flows.d")
    store.close()
    source.close()


def test_each_app_has_its_own_registry(parts, tmp_path):
    store, _ = parts
    other = SQLiteStore(tmp_path / "other.db")
    try:
        first, second = Metrics(store), Metrics(other)
        first.webhook_request("whatsapp", 200)
        assert value(samples(first.exposition()), "chatflow_webhook_requests_total", channel="whatsapp", outcome="ok") == 1
        assert value(samples(second.exposition()), "chatflow_webhook_requests_total", channel="whatsapp", outcome="ok") is None
    finally:
        other.close()


def test_reconciles_are_counted_by_result_and_timed(parts, repo):
    store, reconciler = parts
    metrics = Metrics(store)
    run = metrics.timed(lambda: reconciler.reconcile("HEAD"))
    run()
    run()  # the same commit again: unchanged
    repo.write("flows.d/faq.yaml", flow(text="v2").replace("next: done", "next: gone"))
    repo.commit("broken")
    run()
    with pytest.raises(SourceError):
        metrics.timed(lambda: reconciler.reconcile("no-such-branch"))()
    scraped = samples(metrics.exposition())
    assert value(scraped, "chatflow_reconciles_total", result="ok") == 1
    assert value(scraped, "chatflow_reconciles_total", result="unchanged") == 1
    assert value(scraped, "chatflow_reconciles_total", result="invalid") == 1
    assert value(scraped, "chatflow_reconciles_total", result="error") == 1
    assert value(scraped, "chatflow_reconcile_duration_seconds_count") == 3  # unchanged ones are not observed
    assert value(scraped, "chatflow_reconcile_duration_seconds_sum") > 0
    assert value(scraped, "chatflow_reconcile_consecutive_failures") == 1
    assert value(scraped, "chatflow_reconcile_last_success_timestamp_seconds") > 1e9


def test_flows_are_counted_by_state_and_condition_at_scrape_time(parts, repo):
    store, reconciler = parts
    metrics = Metrics(store)
    before = samples(metrics.exposition())
    assert value(before, "chatflow_flows", state="published") == 0
    reconciler.reconcile("HEAD")
    after = samples(metrics.exposition())
    assert value(after, "chatflow_flows", state="published") == 1
    assert value(after, "chatflow_flows", state="unpublished") == 1
    assert value(after, "chatflow_flow_conditions", type="Ready", status="True", reason="Applied") == 2
    assert value(after, "chatflow_account_conditions", type="Ready", status="True", reason="Applied") == 1
    repo.write("flows.d/faq.yaml", flow(text="v2").replace("next: done", "next: gone"))
    repo.commit("broken")
    reconciler.reconcile("HEAD")
    broken = samples(metrics.exposition())
    assert value(broken, "chatflow_flow_conditions", type="Invalid", status="True", reason="ValidationFailed") == 1
    assert value(broken, "chatflow_flow_conditions", type="Ready", status="False", reason="Invalid") == 1
    assert value(broken, "chatflow_flow_conditions", type="Ready", status="True", reason="Applied") == 1
    assert value(broken, "chatflow_flows", state="published") == 1  # the live revision keeps serving


def test_webhook_answers_are_counted_by_channel_and_outcome(parts):
    store, _ = parts
    metrics = Metrics(store)
    metrics.webhook_request("viber", 401)
    metrics.webhook_request("viber", 401)
    metrics.webhook_request("whatsapp", 413)
    metrics.webhook_request("whatsapp", 418)
    metrics.event_processed("whatsapp", "message")
    scraped = samples(metrics.exposition())
    assert value(scraped, "chatflow_webhook_requests_total", channel="viber", outcome="unauthorized") == 2
    assert value(scraped, "chatflow_webhook_requests_total", channel="whatsapp", outcome="too_large") == 1
    assert value(scraped, "chatflow_webhook_requests_total", channel="whatsapp", outcome="error") == 1
    assert value(scraped, "chatflow_events_processed_total", channel="whatsapp", type="message") == 1


def test_outbox_sessions_and_timers_are_counted_from_the_store_at_each_scrape(parts):
    store, _ = parts
    metrics = Metrics(store)
    empty = samples(metrics.exposition())
    for channel in ("whatsapp", "messenger", "instagram", "viber"):
        assert value(empty, "chatflow_outbox_depth", channel=channel) == 0
        assert value(empty, "chatflow_outbox_messages", channel=channel, status="sent") == 0
    assert value(empty, "chatflow_active_sessions", status="waiting") == 0
    assert value(empty, "chatflow_timers_pending") == 0
    waiting = Session(id="s1", key=KEY, flow="faq", revision="a1a1a1a1a1a1", node="ask", status="waiting",
                      started_at=T0, updated_at=T0, wait=Deadline(T0 + dt.timedelta(hours=1), "question"))
    store.commit(Work(T0, None, (SessionWrite(waiting, None),), (outbox("one"), outbox("two"))))
    queued = samples(metrics.exposition())
    assert value(queued, "chatflow_outbox_depth", channel="whatsapp") == 2
    assert value(queued, "chatflow_active_sessions", status="waiting") == 1
    assert value(queued, "chatflow_timers_pending") == 1
    first, = store.claim_messages(T0, 10)  # one at a time per conversation
    store.settle_messages([SendResult(first.id, "sent", message_id="wamid.1")], T0)
    second, = store.claim_messages(T0, 10)
    store.settle_messages([SendResult(second.id, "failed", error_code="131047", maybe_delivered=True)], T0)
    settled = samples(metrics.exposition())
    assert value(settled, "chatflow_outbox_depth", channel="whatsapp") == 0
    assert value(settled, "chatflow_outbox_messages", channel="whatsapp", status="sent") == 1
    assert value(settled, "chatflow_outbox_messages", channel="whatsapp", status="failed") == 1
    assert value(settled, "chatflow_outbox_repeats", channel="whatsapp") == 1


def test_a_store_that_cannot_count_leaves_the_other_metrics_served(parts, tmp_path):
    store, _ = parts
    broken = SQLiteStore(tmp_path / "gone.db")
    broken.close()
    metrics = Metrics(store, broken)
    metrics.webhook_request("whatsapp", 200)
    scraped = samples(metrics.exposition())
    assert value(scraped, "chatflow_webhook_requests_total", channel="whatsapp", outcome="ok") == 1
    assert value(scraped, "chatflow_flows", state="published") == 0
    assert value(scraped, "chatflow_timers_pending") is None


def test_serve_exposes_metrics_that_follow_commits(repo):
    with Server(repo.path) as server:
        response = server.client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=")
        first = samples(response.text)
        assert value(first, "chatflow_reconciles_total", result="ok") >= 1
        assert value(first, "chatflow_flows", state="published") == 1
        repo.write("flows.d/greet.yaml", flow("greet", keywords=("hello",)))
        head = repo.commit("add greet")
        server.wait_for(lambda: server.status()["commit"] == head, what="the new commit")
        second = samples(server.client.get("/metrics").text)
        assert value(second, "chatflow_flows", state="published") == 2
        assert value(second, "chatflow_reconciles_total", result="ok") == value(first, "chatflow_reconciles_total", result="ok") + 1
        assert value(second, "chatflow_reconcile_duration_seconds_count") >= 2
        for name in ("chatflow_reconcile_consecutive_failures", "chatflow_timers_pending"):
            assert value(second, name) == 0


def test_metrics_need_the_token_off_loopback(repo):
    with Server(repo.path, "--host", "0.0.0.0", env={"CHATFLOW_API_TOKEN": "s3cret"}) as server:
        assert server.client.get("/metrics").status_code == 401
        assert server.client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = server.client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200 and "chatflow_flows" in ok.text


def test_every_metric_served_is_documented(parts):
    store, _ = parts
    served = {family.name for family in text_string_to_metric_families(Metrics(store).exposition().decode())
              if not family.name.endswith("_created")}  # prometheus-client's own series, mentioned once
    doc = (PROJECT / "docs" / "observability.md").read_text()
    assert len(served) >= 12
    for name in served:
        suffix = "_total" if f"`{name}_total`" in doc else ""
        assert f"| `{name}{suffix}` |" in doc, f"{name} is not in the metrics table of docs/observability.md"
