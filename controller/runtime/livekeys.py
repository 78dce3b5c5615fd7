"""Which conversations may have a live session: a Bloom filter over their keys, so that a message
from a new contact starts its flow without a read of the store that would find nothing.

The filter is loaded from the store when the host starts and grows with every session the host
starts. A key it has never seen has no live session that this host knows of. Another process on
the same state may still have started one: the store's unique index on live conversations then
refuses the second session, the unit conflicts, the key joins the filter, and the input is built
again after a real read. A wrong "absent" costs one rebuild, never a second live session; the
host trusts it only for a message that would start a flow (so that an insert follows to catch a
wrong answer), and only on the event loop, where a build cannot call an HTTP API before that.

Keys of ended sessions stay in (a Bloom filter cannot forget): their next message reads the
store, as every message would without the filter. Past its capacity the filter says "maybe" to
everything, until the next start sizes it anew."""

from __future__ import annotations

from typing import Callable, Iterable

from controller.engine.session import ConversationKey

BITS_PER_KEY = 10  # with 3 probes: under 2% of absent keys read the store at capacity
PROBES = 3
MIN_CAPACITY = 1 << 20  # keys; the bits round up to a power of two: 2 MiB, room for 1.6 million
HEADROOM = 2  # capacity: this many times the live sessions at start, at least MIN_CAPACITY


class LiveKeys:
    def __init__(self, capacity: int = MIN_CAPACITY) -> None:
        bits = 1 << max(capacity * BITS_PER_KEY - 1, 63).bit_length()  # a power of two, for a mask
        self.capacity = bits // BITS_PER_KEY
        self.size = 0  # keys added, past capacity too (an upper bound: a key added twice counts twice)
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)

    @classmethod
    def load(cls, keys: Callable[[], Iterable[ConversationKey]]) -> "LiveKeys":
        """A filter holding every key of `keys()` (the live sessions at start), with room for as
        many new ones again; read twice when there are too many for the first size tried."""
        capacity = MIN_CAPACITY
        while True:
            filter_ = cls(capacity)
            for key in keys():
                filter_.add(key)
            if filter_.size * HEADROOM <= filter_.capacity:
                return filter_
            capacity = filter_.size * HEADROOM

    @property
    def full(self) -> bool:
        return self.size >= self.capacity

    def add(self, key: ConversationKey) -> None:
        self.size += 1
        if self.size > self.capacity:
            return
        bits = self._bits
        for at in self._positions(key):
            bits[at >> 3] |= 1 << (at & 7)

    def may_be_live(self, key: ConversationKey) -> bool:
        """False only for a key never added (while the filter has room)."""
        if self.full:
            return True
        bits = self._bits
        for at in self._positions(key):
            if not bits[at >> 3] & (1 << (at & 7)):
                return False
        return True

    def _positions(self, key: ConversationKey) -> list[int]:
        # double hashing on the 64 bits of Python's (per-process) hash: two halves, PROBES positions
        h = hash((key.channel, key.account, key.address)) & 0xFFFFFFFFFFFFFFFF
        first, step = h & 0xFFFFFFFF, (h >> 32) | 1
        mask = self._mask
        return [(first + i * step) & mask for i in range(PROBES)]
