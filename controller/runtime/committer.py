"""Group commit: the units of work that are ready in the same turn of the event loop share one
transaction, each still all or nothing (a savepoint each), and each caller hears back only after
that transaction has committed.

The commit runs on the event loop itself: a thread would trade the loop's time for the GIL, and
with WAL and synchronous=NORMAL a commit is a short write, not an fsync.
"""

from __future__ import annotations

import asyncio

from controller.crash import crash_point
from controller.store.base import StateStore
from controller.store.records import Committed, Work

MAX_BATCH = 256  # units per transaction: bounds how long one commit holds the loop


class Committer:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._pending: list[tuple[Work, asyncio.Future[Committed]]] = []
        self._scheduled = False
        self.batches = 0  # transactions, and the units they held (benches read these)
        self.units = 0

    async def submit(self, work: Work) -> Committed:
        """Commit `work` with whatever else is ready; raises what storing it raised."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Committed] = loop.create_future()
        self._pending.append((work, future))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)  # after the other requests of this turn have built theirs
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
        if self._pending:
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._scheduled = False
        try:
            results = self.store.commit_many([w for w, _ in batch],
                                             before_commit=lambda: crash_point("inbound.before-commit"))
        except Exception as exc:  # the transaction failed as a whole: every caller hears it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        if any(isinstance(r, Committed) and r.applied for r in results):
            crash_point("inbound.after-commit")
        self.batches += 1
        self.units += len(batch)
        for (_, future), result in zip(batch, results):
            if future.done():
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)
