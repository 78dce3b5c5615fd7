"""The host's filter of conversations that may have a live session (controller/runtime/livekeys.py)."""

from __future__ import annotations

from controller.engine.session import ConversationKey
from controller.runtime import livekeys
from controller.runtime.livekeys import LiveKeys


def keys(prefix: str, count: int) -> list[ConversationKey]:
    return [ConversationKey("whatsapp", "wa", f"{prefix}{n:08d}") for n in range(count)]


def test_every_key_added_may_be_live_and_few_others_seem_so():
    filter_ = LiveKeys(capacity=20_000)
    added = keys("1555", 20_000)  # filled to its capacity
    for key in added:
        filter_.add(key)
    assert all(filter_.may_be_live(key) for key in added)
    others = keys("1777", 20_000)
    seeming = sum(filter_.may_be_live(key) for key in others)
    assert seeming < 0.03 * len(others)  # each of them reads the store, as without the filter


def test_past_its_capacity_every_key_may_be_live():
    filter_ = LiveKeys(capacity=100)
    for key in keys("1555", filter_.capacity):
        filter_.add(key)
    assert filter_.full
    assert all(filter_.may_be_live(key) for key in keys("1777", 1000))


def test_loading_sizes_the_filter_for_the_keys_it_starts_with(monkeypatch):
    monkeypatch.setattr(livekeys, "MIN_CAPACITY", 1000)
    live = keys("1555", 5000)
    reads = []

    def stored():
        reads.append(1)
        return iter(live)

    filter_ = LiveKeys.load(stored)
    assert filter_.capacity >= livekeys.HEADROOM * len(live) and not filter_.full
    assert all(filter_.may_be_live(key) for key in live)
    assert len(reads) == 2  # once into a filter too small, once into one of the right size
