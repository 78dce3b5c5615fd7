"""`split`: weighted, deterministic per conversation."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from controller.engine import ConversationKey

from ..helpers import Chat, make_flow


def flow(weights: list[int]):
    nodes = {
        "start": {"type": "start", "next": "ab"},
        "ab": {"type": "split", "branches": [{"weight": w, "next": f"v{i}"} for i, w in enumerate(weights)]},
    }
    nodes.update({f"v{i}": {"type": "end", "outcome": f"v{i}"} for i in range(len(weights))})
    return make_flow(nodes)


def outcome(f, address: str) -> str:
    return Chat(f, key=ConversationKey("whatsapp", "acme-wa", address)).start().session.outcome


@given(st.text(min_size=1, max_size=30), st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_the_same_conversation_always_takes_the_same_branch(address, weights):
    f = flow(weights)
    assert outcome(f, address) == outcome(f, address)


def test_a_zero_weight_branch_is_never_taken():
    f = flow([0, 1])
    assert {outcome(f, str(n)) for n in range(200)} == {"v1"}


def test_branches_are_taken_in_proportion_to_their_weights():
    f = flow([1, 3])
    counts = Counter(outcome(f, f"+1555{n:07d}") for n in range(2000))
    assert 0.20 < counts["v0"] / 2000 < 0.30  # 25% expected; 2000 draws keep it well inside


def test_the_split_depends_on_the_node_so_two_splits_are_independent():
    from controller.engine.components.split import bucket

    key = ConversationKey("whatsapp", "acme-wa", "1")
    firsts = [bucket(ConversationKey("whatsapp", "acme-wa", str(n)), "f", "a", 2) for n in range(400)]
    seconds = [bucket(ConversationKey("whatsapp", "acme-wa", str(n)), "f", "b", 2) for n in range(400)]
    agree = sum(a == b for a, b in zip(firsts, seconds))
    assert 140 < agree < 260  # independent halves agree about half the time
    assert bucket(key, "f", "a", 7) == bucket(key, "f", "a", 7)
