"""`condition`: first true branch wins, else default; the product's operators as tests/filters."""

from __future__ import annotations

import pytest

from ..helpers import Chat, make_flow, of_type


def route(when: list[str], text: str = "hi") -> str:
    nodes = {
        "start": {"type": "start", "next": "c"},
        "c": {"type": "condition", "branches": [{"when": w, "next": f"b{i}"} for i, w in enumerate(when)], "default": "other"},
        "other": {"type": "end", "outcome": "default"},
    }
    nodes.update({f"b{i}": {"type": "end", "outcome": f"branch {i}"} for i in range(len(when))})
    return Chat(make_flow(nodes, variables={"total": {"type": "number", "default": 150}})).start(text).session.outcome


def test_the_first_true_branch_wins():
    assert route(["vars.total > 100", "vars.total > 10"]) == "branch 0"
    assert route(["vars.total > 1000", "vars.total > 10"]) == "branch 1"


def test_default_when_no_branch_is_true():
    assert route(["vars.total > 1000"]) == "default"


@pytest.mark.parametrize(
    "when, text, taken",
    [
        ("message.text is contains('ORDER')", "my order please", True),
        ("message.text is startswith('hi')", "Hi there", True),
        ("message.text is blank", "   ", True),
        ("message.text is matches('[0-9]{4}')", "order 1234 late", True),
        ("message.text is fullmatch('[0-9]{4}')", "order 1234", False),
        ("message.text | number > 5 and message.text | number < 10", "7", True),
        ("message.text is date", "2026-12-01", True),
        ("message.text | date > '2026-01-01' | date", "2026-12-01", True),
        ("message.text == 'yes' or message.text == 'y'", "y", True),
        ("vars.nothing == 'x'", "x", False),
    ],
)
def test_operators_of_the_product(when, text, taken):
    assert route([when], text) == ("branch 0" if taken else "default")


def test_an_expression_error_is_logged_and_ends_the_conversation():
    nodes = {
        "start": {"type": "start", "next": "c"},
        "c": {"type": "condition", "branches": [{"when": "1 / 0 > 1", "next": "done"}], "default": "done"},
        "done": {"type": "end", "outcome": "fine"},
    }
    step = Chat(make_flow(nodes)).start()
    assert step.session.outcome == "failed"
    assert "branches[0].when" in of_type(step, "error")[0].fields["message"]
