"""Prometheus metrics: per-app registries, reconciles counted and timed, store gauges at scrape time, the runtime's API."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from controller.reconcile.reconciler import Reconciler
from controller.source.git import GitSource, SourceError
from controller.store.sqlite import SQLiteStore
from controller.web.metrics import Metrics

from ..gitrepo import Repo, account, flow
from ..server import Server


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
        first.webhook_request("whatsapp", "ok")
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


def test_the_runtime_reports_through_small_calls(parts):
    store, _ = parts
    metrics = Metrics(store)
    metrics.webhook_request("viber", "unauthorized")
    metrics.webhook_request("viber", "unauthorized")
    metrics.event_processed("whatsapp", "message")
    metrics.send_result("whatsapp", "sent")
    metrics.send_result("whatsapp", "retry")
    depth = {"whatsapp": 3}
    metrics.add_sampler(lambda m: m.set_outbox_depth("whatsapp", depth["whatsapp"]))
    metrics.add_sampler(lambda m: m.set_active_sessions("waiting", 2))
    metrics.add_sampler(lambda m: m.set_timers_pending(5))
    scraped = samples(metrics.exposition())
    assert value(scraped, "chatflow_webhook_requests_total", channel="viber", outcome="unauthorized") == 2
    assert value(scraped, "chatflow_events_processed_total", channel="whatsapp", type="message") == 1
    assert value(scraped, "chatflow_outbox_sends_total", channel="whatsapp", result="sent") == 1
    assert value(scraped, "chatflow_outbox_sends_total", channel="whatsapp", result="retry") == 1
    assert value(scraped, "chatflow_outbox_depth", channel="whatsapp") == 3
    assert value(scraped, "chatflow_active_sessions", status="waiting") == 2
    assert value(scraped, "chatflow_timers_pending") == 5
    depth["whatsapp"] = 0
    assert value(samples(metrics.exposition()), "chatflow_outbox_depth", channel="whatsapp") == 0  # sampled per scrape


def test_a_failing_sampler_does_not_break_the_scrape(parts):
    store, _ = parts
    metrics = Metrics(store)

    def broken(m: Metrics) -> None:
        raise RuntimeError("store gone")

    metrics.add_sampler(broken)
    metrics.add_sampler(lambda m: m.set_timers_pending(1))
    scraped = samples(metrics.exposition())
    assert value(scraped, "chatflow_timers_pending") == 1
    assert value(scraped, "chatflow_flows", state="published") == 0


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
