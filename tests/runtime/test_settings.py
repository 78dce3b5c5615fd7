"""Runtime settings from the environment: defaults, and errors that name the setting."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from controller.runtime.dispatcher import DispatchConfig
from controller.runtime.privacy import EventPolicy
from controller.runtime.retention import RetentionPolicy
from controller.runtime.settings import SettingError

from ..gitrepo import Repo


def test_defaults_keep_dedupe_past_metas_seven_days_and_events_thirty_days():
    policy = RetentionPolicy.from_env({})
    assert policy.dedupe == dt.timedelta(days=8) and policy.events == dt.timedelta(days=30)
    cut = policy.cutoffs(dt.datetime(2026, 3, 31, tzinfo=dt.timezone.utc))
    assert cut.dedupe_before == dt.datetime(2026, 3, 23, tzinfo=dt.timezone.utc)
    assert DispatchConfig.from_env({}).rate == 80.0  # WhatsApp's default per number


def test_events_retention_is_read_and_ended_sessions_are_kept_at_least_as_long():
    policy = RetentionPolicy.from_env({"CHATFLOW_EVENTS_RETENTION": "90d", "CHATFLOW_PRUNE_INTERVAL": "15m"})
    assert policy.events == policy.sessions == dt.timedelta(days=90)
    assert policy.interval == dt.timedelta(minutes=15)


@pytest.mark.parametrize("env, message", [
    ({"CHATFLOW_EVENTS_RETENTION": "30 days"}, "CHATFLOW_EVENTS_RETENTION='30 days' is not a duration"),
    ({"CHATFLOW_PRUNE_INTERVAL": "0s"}, "CHATFLOW_PRUNE_INTERVAL must be longer than 0s"),
])
def test_a_bad_retention_setting_names_itself(env, message):
    with pytest.raises(SettingError, match=message):
        RetentionPolicy.from_env(env)


@pytest.mark.parametrize("env, message", [
    ({"CHATFLOW_SEND_RATE": "fast"}, "CHATFLOW_SEND_RATE='fast' is not a number"),
    ({"CHATFLOW_SEND_RATE": "0"}, "CHATFLOW_SEND_RATE='0' must be at least"),
    ({"CHATFLOW_SEND_CONCURRENCY": "-3"}, "CHATFLOW_SEND_CONCURRENCY='-3' is not a whole number of at least 1"),
    ({"CHATFLOW_SEND_TIMEOUT": "nan"}, "CHATFLOW_SEND_TIMEOUT='nan' must be at least"),
])
def test_a_bad_send_setting_names_itself(env, message):
    with pytest.raises(SettingError, match=message):
        DispatchConfig.from_env(env)


def assert_serve_refuses(tmp_path, cli, name: str, value: str, message: str) -> None:
    """`chatflow serve` with one bad setting stops with `message`, not a traceback."""
    repo = Repo(tmp_path / "repo")
    repo.write("flows.d/.keep", "")
    repo.commit()
    result = cli("serve", "--repo", str(repo.path), "--port", "1", cwd=repo.path,
                 env={**os.environ, name: value}, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_bad_setting_with_a_message_not_a_traceback(tmp_path, cli):
    assert_serve_refuses(tmp_path, cli, "CHATFLOW_EVENTS_RETENTION", "forever",
                         "CHATFLOW_EVENTS_RETENTION='forever' is not a duration")


@pytest.mark.parametrize("text, bodies", [(None, True), ("false", False), ("No", False), ("0", False), ("off", False),
                                          ("true", True), ("YES", True), ("1", True), ("  ", True)])
def test_message_bodies_are_logged_unless_switched_off(text, bodies):
    assert EventPolicy.from_env({} if text is None else {"CHATFLOW_LOG_MESSAGE_BODIES": text}).bodies is bodies


def test_a_bad_message_bodies_setting_names_itself_and_stops_serve(tmp_path, cli):
    with pytest.raises(SettingError, match="CHATFLOW_LOG_MESSAGE_BODIES='redact' is not true or false"):
        EventPolicy.from_env({"CHATFLOW_LOG_MESSAGE_BODIES": "redact"})
    assert_serve_refuses(tmp_path, cli, "CHATFLOW_LOG_MESSAGE_BODIES", "maybe",
                         "CHATFLOW_LOG_MESSAGE_BODIES='maybe' is not true or false")


def test_the_pruner_deletes_events_older_than_the_events_retention_from_the_store(tmp_path, cli):
    from controller.engine.events import Execution
    from controller.runtime.retention import Pruner
    from controller.store.records import Work
    from controller.store.sqlite import SQLiteStore

    now = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
    store = SQLiteStore(tmp_path / "state.db")
    try:
        for days, conversation in ((3, "old"), (1, "recent")):
            at = now - dt.timedelta(days=days)
            store.commit(Work(at, None, events=(Execution("flow.started", conversation, "shop", "a1a1a1a1a1a1", None, at),)))
        policy = RetentionPolicy.from_env({"CHATFLOW_EVENTS_RETENTION": "2d"})
        pruned = Pruner(store, policy, clock=lambda: now).once()
        assert pruned.events == 1
        assert [r.event.conversation for r in store.events()] == ["recent"]
    finally:
        store.close()
    shown = cli("logs", "shop", "-o", "json", "--state", str(tmp_path / "state.db"))
    assert shown.returncode == 0 and '"conversation": "recent"' in shown.stdout and '"old"' not in shown.stdout
