"""The one retry/backoff policy: capped exponential with full jitter (reconciles, outbox sends)."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base: float = 1.0  # seconds before the first retry (before jitter)
    cap: float = 300.0  # never wait longer than this
    factor: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based): uniform in [0, min(cap, base*factor^(n-1))]."""
        ceiling = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        return (rng or random).uniform(ceiling / 2, ceiling)
