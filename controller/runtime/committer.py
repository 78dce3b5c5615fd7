"""Group commit: the units of work that are ready in the same turn of the event loop share one
transaction, each still all or nothing (a savepoint each), and each caller hears back only after
that transaction has committed.

The commit runs on the event loop itself: a thread would trade the loop's time for the GIL, and
with WAL and synchronous=NORMAL a commit is a short write, not an fsync. When another process
(the outbox worker) holds the write lock, the loop does not sleep in SQLite's busy handler: the
batch is tried again a moment later, and the loop reads and builds meanwhile (the units that are
ready by then join the batch).
"""

from __future__ import annotations

import asyncio

from controller.crash import crash_point
from controller.store.base import StateStore, WriterBusy
from controller.store.records import Committed, Work

MAX_BATCH = 256  # units per transaction: bounds how long one commit holds the loop
BUSY_RETRY = 0.0002  # s: the next try of a batch that found the write lock taken
BUSY_PATIENCE = 0.05  # s: past this, wait in SQLite's busy handler (its timeout still applies)


class Committer:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._pending: list[tuple[Work, asyncio.Future[Committed]]] = []
        self._scheduled = False
        self._busy_since: float | None = None  # loop time the current batch first found the lock taken
        self.batches = 0  # transactions, and the units they held (benches read these)
        self.units = 0
        self.busy = 0  # tries put off because another writer held the lock

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
        loop = asyncio.get_running_loop()
        batch = self._pending[:MAX_BATCH]
        patient = self._busy_since is not None and loop.time() - self._busy_since >= BUSY_PATIENCE
        try:
            results = self.store.commit_many([w for w, _ in batch], wait=patient,
                                             before_commit=lambda: crash_point("inbound.before-commit"))
        except WriterBusy:
            if self._busy_since is None:
                self._busy_since = loop.time()
            self.busy += 1
            loop.call_later(BUSY_RETRY, self._flush)  # still scheduled: submits add to the batch
            return
        except Exception as exc:  # the transaction failed as a whole: every caller hears it
            self._done(loop, batch)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        self._done(loop, batch)
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

    def _done(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Work, asyncio.Future[Committed]]]) -> None:
        """`batch` is off the queue; the rest, if any, goes next turn."""
        del self._pending[:len(batch)]
        self._busy_since = None
        if self._pending:
            loop.call_soon(self._flush)
        else:
            self._scheduled = False
