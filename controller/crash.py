"""Named crash points for fault tests: CHATFLOW_CRASH_AT=<point> exits the process there (DESIGN §8)."""

from __future__ import annotations

import os

POINTS = (
    "apply.between-flows",
    "reconcile.after-plan",
    "inbound.before-commit",
    "inbound.after-commit",
    "outbox.after-send",
)


def crash_point(name: str) -> None:
    """Exit at once, as a power cut would (no cleanup, no flush), when the point is armed."""
    assert name in POINTS, name
    if os.environ.get("CHATFLOW_CRASH_AT") == name:
        os._exit(137)
