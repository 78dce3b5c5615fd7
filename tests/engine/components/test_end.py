"""`start` and `end`: where a conversation begins and how it ends."""

from __future__ import annotations

from ..helpers import Chat, make_flow, of_type, types


def test_end_records_its_outcome_and_the_session_is_final():
    flow = make_flow({"start": {"type": "start", "next": "done"}, "done": {"type": "end", "outcome": "resolved"}})
    step = Chat(flow).start()
    assert step.session.status == "ended" and step.session.outcome == "resolved" and step.session.node == "done"
    assert step.session.deadline is None
    [ended] = of_type(step, "flow.ended")
    assert ended.fields == {"outcome": "resolved", "status": "ended"}


def test_events_trace_the_path_in_order():
    flow = make_flow({"start": {"type": "start", "next": "done"}, "done": {"type": "end"}})
    step = Chat(flow).start()
    assert types(step) == ["flow.started", "message.received", "node.entered", "node.left", "node.entered", "flow.ended"]
    assert all(e.conversation == "s1" and e.flow == "demo" and e.revision == "rev1" for e in step.executions)
