"""`goto` (Jump to Step): bounded by max_jumps, then next."""

from __future__ import annotations

from ..helpers import Chat, make_flow, texts


def test_jumps_back_max_jumps_times_then_takes_next():
    f = make_flow({
        "start": {"type": "start", "next": "ask"},
        "ask": {"type": "question", "text": "Code?", "save_as": "code", "next": "check"},
        "check": {"type": "condition", "branches": [{"when": "vars.code == 'open'", "next": "yes"}], "default": "again"},
        "again": {"type": "goto", "target": "ask", "max_jumps": 2, "next": "locked"},
        "yes": {"type": "end", "outcome": "opened"},
        "locked": {"type": "end", "outcome": "locked"},
    })
    c = Chat(f)
    c.start()
    assert texts(c.say("a")) == ["Code?"]
    assert texts(c.say("b")) == ["Code?"]
    step = c.say("c")
    assert step.session.outcome == "locked"
    assert dict(step.session.jumps) == {"again": 2}


def test_a_goto_loop_without_a_wait_runs_its_jumps_within_one_input():
    f = make_flow({
        "start": {"type": "start", "next": "inc"},
        "inc": {"type": "set", "values": {"n": "(vars.n or 0) + 1"}, "next": "loop"},
        "loop": {"type": "goto", "target": "inc", "max_jumps": 5, "next": "done"},
        "done": {"type": "message", "text": "n={{ vars.n }}", "next": "end"},
        "end": {"type": "end"},
    })
    assert texts(Chat(f).start()) == ["n=6"]
