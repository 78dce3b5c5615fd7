"""The session's JSON form: what a host stores between inputs."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.engine import ConversationKey, Deadline, Reply, Said, Session, SessionFormatError
from controller.engine.messages import Contact

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**53), max_value=2**53) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
times = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1), timezones=st.just(dt.timezone.utc))
names = st.text(min_size=1, max_size=12)

sessions = st.builds(
    Session,
    id=names,
    key=st.builds(ConversationKey, names, names, names),
    flow=names,
    revision=names,
    node=st.none() | names,
    status=st.sampled_from(["active", "waiting", "handed_over", "ended", "expired"]),
    started_at=times,
    updated_at=times,
    vars=st.dictionaries(names, json_values, max_size=5),
    trigger=st.dictionaries(names, json_values, max_size=3),
    contact=st.builds(Contact, names, st.none() | names, st.none() | names),
    account_phone=st.none() | names,
    wait=st.none() | st.builds(Deadline, times, st.sampled_from(["question", "delay", "handoff"])),
    expires_at=st.none() | times,
    retries=st.integers(0, 10),
    jumps=st.dictionaries(names, st.integers(0, 1000), max_size=3),
    message=st.none() | st.builds(Said, st.none() | st.text(max_size=30), st.sampled_from(["text", "button", "unsupported"])),
    reply=st.none() | st.builds(Reply, st.none() | st.text(max_size=30), st.none() | names),
    outcome=st.none() | names,
)


@given(sessions)
@settings(max_examples=200, deadline=None)
def test_any_session_survives_a_json_round_trip(session):
    text = json.dumps(session.to_json())
    again = Session.from_json(json.loads(text))
    assert again == session
    assert again.deadline == session.deadline


def test_deadline_is_the_earlier_of_the_node_deadline_and_expiry():
    t = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    base = Session("s", ConversationKey("w", "a", "c"), "f", "r", "q", "waiting", t, t)
    assert base.deadline is None
    wait = Deadline(t + dt.timedelta(hours=1), "question")
    assert base.evolve(wait=wait, expires_at=t + dt.timedelta(days=1)).deadline == wait
    assert base.evolve(wait=wait, expires_at=t + dt.timedelta(minutes=5)).deadline == Deadline(t + dt.timedelta(minutes=5), "expiry")
    assert base.evolve(wait=wait, status="ended").deadline is None


@pytest.mark.parametrize(
    "change, message",
    [
        ({"format": 99}, "format 99"),
        ({"status": "sleeping"}, "unknown status 'sleeping'"),
        ({"startedAt": "2026-01-01T00:00:00"}, "has no timezone"),
        ({"key": None}, "malformed"),
    ],
)
def test_unreadable_json_is_a_clear_error(change, message):
    t = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    good = Session("s", ConversationKey("w", "a", "c"), "f", "r", "q", "waiting", t, t).to_json()
    with pytest.raises(SessionFormatError, match=message):
        Session.from_json({**good, **change})
    with pytest.raises(SessionFormatError, match="JSON object"):
        Session.from_json([good])  # type: ignore[arg-type]


def test_session_values_cannot_be_changed_in_place():
    t = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    session = Session("s", ConversationKey("w", "a", "c"), "f", "r", "q", "waiting", t, t, vars={"a": 1})
    with pytest.raises(TypeError):
        session.vars["a"] = 2  # type: ignore[index]
