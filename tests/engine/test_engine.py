"""The engine through its public API: starting, inputs, timers, expiry, the step limit."""

from __future__ import annotations

import datetime as dt

import pytest

from controller.engine import STEP_LIMIT, Inbound, Release, Start, Stop, TimerFired, advance
from controller.engine.events import Execution
from controller.engine.messages import Contact

from .helpers import ANA, KEY, T0, Chat, make_flow, of_type, reload, texts

QUESTION = {
    "start": {"type": "start", "next": "q"},
    "q": {"type": "question", "text": "Name?", "save_as": "name", "timeout": {"after": "1h", "next": "late"}, "next": "thanks"},
    "thanks": {"type": "message", "text": "Thanks {{ vars.name }}", "next": "done"},
    "late": {"type": "message", "text": "Too late", "next": "done"},
    "done": {"type": "end", "outcome": "done"},
}


# ---- start ------------------------------------------------------------------------------------


def test_start_keeps_declared_inputs_applies_defaults_and_drops_the_rest():
    f = make_flow({"start": {"type": "start", "next": "done"}, "done": {"type": "end"}}, trigger={"type": "manual"},
                  variables={"first_name": {"type": "string", "default": "there"}, "cart_total": {"type": "number", "default": 0},
                             "phone": {"type": "string"}, "vip": {"type": "boolean", "default": False}})
    step = Chat(f).start(None, {"cart_total": "150", "phone": 15550002222, "evil": "x"})
    assert dict(step.session.vars) == {"first_name": "there", "cart_total": 150, "phone": "15550002222", "vip": False}
    assert dict(step.session.trigger) == {"cart_total": 150, "phone": "15550002222"}
    started = of_type(step, "flow.started")[0]
    assert started.fields == {"inputs": ["cart_total", "phone"], "dropped": ["evil"]}


def test_an_input_of_the_wrong_type_keeps_the_default_and_is_logged():
    f = make_flow({"start": {"type": "start", "next": "done"}, "done": {"type": "end"}}, trigger={"type": "manual"},
                  variables={"cart_total": {"type": "number", "default": 0}})
    step = Chat(f).start(None, {"cart_total": "lots"})
    assert step.session.vars["cart_total"] == 0
    assert "cart_total" in of_type(step, "error")[0].fields["message"]


def test_trigger_inputs_are_visible_as_trigger_and_vars():
    f = make_flow({"start": {"type": "start", "next": "m"}, "m": {"type": "message", "text": "{{ trigger.x }}/{{ vars.x }}", "next": "done"},
                   "done": {"type": "end"}}, variables={"x": {"type": "string"}})
    assert texts(Chat(f).start(None, {"x": "1"})) == ["1/1"]


def test_the_session_id_comes_from_the_host_or_the_id_service():
    from controller.engine import Services

    f = make_flow(QUESTION)
    step = advance(f, None, Start(KEY, "r"), T0, Services(new_id=lambda: "generated"))
    assert step.session.id == "generated"
    assert advance(f, None, Start(KEY, "r", session_id="mine"), T0).session.id == "mine"


def test_starting_over_a_live_session_ends_it_as_restarted():
    f = make_flow(QUESTION)
    c = Chat(f)
    c.start()
    step = c.apply(Start(KEY, "rev2", session_id="s2"))
    ended = [e for e in of_type(step, "flow.ended") if e.conversation == "s1"]
    assert ended[0].fields["outcome"] == "restarted"
    assert step.session.id == "s2" and step.session.revision == "rev2" and step.session.node == "q"


def test_account_and_contact_names_are_available_to_templates():
    f = make_flow({"start": {"type": "start", "next": "m"},
                   "m": {"type": "message", "text": "{{ account.name }} {{ account.phone }} {{ contact.id }} {{ contact.phone }} {{ flow.name }}", "next": "done"},
                   "done": {"type": "end"}})
    step = advance(f, None, Start(KEY, "r", Contact("wa-1", "Ana", "+1555"), account_phone="+1000"), T0)
    assert texts(step) == ["acme-wa +1000 wa-1 +1555 demo"]


# ---- inputs to a session ----------------------------------------------------------------------


def test_inputs_to_an_ended_session_do_nothing():
    c = Chat(make_flow({"start": {"type": "start", "next": "done"}, "done": {"type": "end"}}))
    ended = c.start().session
    for input in (Inbound("hi"), TimerFired(T0), Release(), Stop()):
        step = c.apply(input)
        assert not step.handled and step.events == () and step.session == ended


def test_stop_ends_a_waiting_conversation():
    c = Chat(make_flow(QUESTION))
    c.start()
    step = c.apply(Stop())
    assert step.session.status == "ended" and step.session.outcome == "stopped" and step.session.deadline is None


def test_a_host_mistake_is_a_clear_value_error():
    f = make_flow(QUESTION)
    with pytest.raises(ValueError, match="needs a session"):
        advance(f, None, Inbound("hi"), T0)
    with pytest.raises(ValueError, match="timezone-aware"):
        advance(f, None, Start(KEY, "r"), dt.datetime(2026, 1, 1))
    other = make_flow(QUESTION, name="other")
    session = advance(f, None, Start(KEY, "r"), T0).session
    with pytest.raises(ValueError, match="runs flow `demo`, not `other`"):
        advance(other, session, Inbound("x"), T0)


# ---- timers -----------------------------------------------------------------------------------


def test_a_stale_timer_does_nothing():
    nodes = dict(QUESTION, thanks={"type": "question", "text": "Age?", "timeout": {"after": "3h", "next": "late"}, "next": "done"})
    c = Chat(make_flow(nodes))
    first_deadline = c.start().session.deadline.at
    waiting = c.say("Ana").session  # answered: the first timer is stale, the next question waits
    step = c.later(hours=2).apply(TimerFired(first_deadline))
    assert not step.handled and step.events == ()
    assert step.session == waiting and step.session.node == "thanks"


def test_a_timer_for_another_deadline_or_before_it_is_due_does_nothing():
    c = Chat(make_flow(QUESTION))
    session = c.start().session
    assert not c.apply(TimerFired(session.deadline.at + dt.timedelta(seconds=1))).handled
    assert not c.apply(TimerFired(session.deadline.at)).handled  # `now` is still before it
    assert c.session.node == "q"


def test_timer_fired_is_logged_with_its_kind():
    c = Chat(make_flow(QUESTION))
    c.start()
    step = c.fire()
    assert of_type(step, "timer.fired")[0].fields["kind"] == "question"
    assert texts(step) == ["Too late"]


def test_an_inbound_after_an_overdue_deadline_applies_the_deadline_first():
    c = Chat(make_flow(QUESTION))
    c.start()
    step = c.later(hours=2).say("Ana")
    assert texts(step) == ["Too late"]
    assert step.session.is_final and not step.handled  # the host may route the message anew


# ---- expiry -----------------------------------------------------------------------------------


def test_a_waiting_session_past_expire_after_ends_as_expired():
    f = make_flow({"start": {"type": "start", "next": "q"}, "q": {"type": "question", "text": "?", "next": "done"},
                   "done": {"type": "end"}}, expire="2d")
    c = Chat(f)
    step = c.start()
    assert step.session.deadline.kind == "expiry" and step.session.deadline.at == c.now + dt.timedelta(days=2)
    step = c.fire()
    assert step.session.status == "expired" and step.session.outcome == "expired" and step.session.is_final
    assert of_type(step, "flow.ended")[0].fields == {"outcome": "expired", "status": "expired"}


def test_expiry_wins_over_a_later_node_deadline():
    f = make_flow({"start": {"type": "start", "next": "w"}, "w": {"type": "delay", "duration": "5d", "next": "done"},
                   "done": {"type": "end"}}, expire="3d")
    step = Chat(f).start()
    assert step.session.deadline.kind == "expiry"
    assert step.session.wait.kind == "delay"


def test_activity_moves_the_expiry_on():
    f = make_flow({"start": {"type": "start", "next": "h"}, "h": {"type": "handoff", "next": "done"}, "done": {"type": "end"}}, expire="1d")
    c = Chat(f)
    c.start()
    step = c.later(hours=20).say("still talking to the agent")
    assert step.session.deadline.at == c.now + dt.timedelta(days=1)
    assert of_type(step, "timer.set")[0].fields["kind"] == "expiry"


# ---- the step limit ---------------------------------------------------------------------------


def test_a_long_jump_loop_is_stopped_by_the_step_limit():
    f = make_flow({
        "start": {"type": "start", "next": "a"},
        "a": {"type": "set", "values": {"n": "(vars.n or 0) + 1"}, "next": "loop"},
        "loop": {"type": "goto", "target": "a", "max_jumps": 1000, "next": "done"},
        "done": {"type": "end"},
    })
    step = Chat(f).start()
    assert step.session.status == "ended" and step.session.outcome == "step_limit"
    assert len(of_type(step, "node.entered")) == STEP_LIMIT
    assert "more than 100 nodes" in of_type(step, "error")[0].fields["message"]


# ---- not recording execution events ------------------------------------------------------------


def test_without_recording_a_step_is_the_same_but_for_the_execution_events_it_leaves_out():
    f = make_flow({
        "start": {"type": "start", "next": "hello"},
        "hello": {"type": "message", "text": "Hi {{ contact.name }}", "next": "ask"},
        "ask": {"type": "question", "text": "Your age?", "expect": "number", "save_as": "age", "retries": 1,
                "invalid_text": "A number, please", "next": "check", "timeout": {"after": "1h", "next": "late"}},
        "check": {"type": "condition", "branches": [{"when": "vars.age | number > 17", "next": "adult"}],
                  "default": "count"},
        "count": {"type": "set", "values": {"n": "(vars.n or 0) + 1"}, "next": "loop"},
        "loop": {"type": "goto", "target": "ask", "max_jumps": 2, "next": "wait"},
        "adult": {"type": "handoff", "next": "wait"},
        "wait": {"type": "delay", "duration": "2h", "next": "bye"},
        "late": {"type": "message", "text": "Too late", "next": "bye"},
        "bye": {"type": "message", "text": "Bye {{ vars.n }}", "next": "done"},
        "done": {"type": "end"},
    })
    inputs = [Start(KEY, "rev1", ANA, {}, Inbound("hi"), session_id="s1"), Inbound("twelve"), Inbound("12"),
              Inbound("30"), Inbound("to the agent"), Release(), Inbound("waiting"), "timer", Inbound("after the end")]
    recorded = unrecorded = None
    now = T0
    for input in inputs:
        now += dt.timedelta(minutes=1)
        if input == "timer":
            input = TimerFired(recorded.session.deadline.at)
            now = max(now, input.at)
        a = advance(f, reload(recorded.session) if recorded else None, input, now, record=True)
        b = advance(f, reload(unrecorded.session) if unrecorded else None, input, now, record=False)
        assert a.session == b.session and a.handled == b.handled
        assert [e for e in a.events if not isinstance(e, Execution)] == list(b.events)
        assert b.unrecorded == len(a.executions) and a.unrecorded == 0
        recorded, unrecorded = a, b
    assert recorded.session.is_final and not recorded.handled
