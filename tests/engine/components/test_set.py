"""`set`: assigns expression values; all or nothing."""

from __future__ import annotations

from ..helpers import Chat, make_flow, of_type


def test_values_are_evaluated_and_saved_with_var_set_events():
    flow = make_flow({
        "start": {"type": "start", "next": "s"},
        "s": {"type": "set", "values": {"total": "vars.price * 2", "name": "contact.name | upper", "tags": "['a', 'b']"}, "next": "done"},
        "done": {"type": "end"},
    }, variables={"price": {"type": "number", "default": 21}})
    step = Chat(flow).start()
    assert dict(step.session.vars) == {"price": 21, "total": 42, "name": "ANA", "tags": ["a", "b"]}
    assert [(e.fields["name"], e.fields["value"]) for e in of_type(step, "var.set")] == [("total", 42), ("name", "ANA"), ("tags", ["a", "b"])]


def test_a_date_value_is_stored_as_iso_text_so_the_session_stays_json():
    flow = make_flow({
        "start": {"type": "start", "next": "s"},
        "s": {"type": "set", "values": {"day": "'01/12/2026' | date"}, "next": "done"},
        "done": {"type": "end"},
    })
    assert Chat(flow).start().session.vars["day"] == "2026-12-01"


def test_setting_none_unsets_the_variable():
    flow = make_flow({
        "start": {"type": "start", "next": "s"},
        "s": {"type": "set", "values": {"x": "none"}, "next": "done"},
        "done": {"type": "end"},
    }, variables={"x": {"type": "string", "default": "was set"}})
    assert "x" not in Chat(flow).start().session.vars


def test_a_failing_value_assigns_nothing():
    flow = make_flow({
        "start": {"type": "start", "next": "s"},
        "s": {"type": "set", "values": {"a": "1", "b": "1 / 0"}, "next": "done"},
        "done": {"type": "end"},
    })
    step = Chat(flow).start()
    assert "a" not in step.session.vars and step.session.outcome == "failed"
    assert of_type(step, "var.set") == []
