"""WAL checkpoints in a thread of their own, so that no commit on the server's event loop stalls
while the write-ahead log is copied into the database.

By default SQLite checkpoints inside whichever COMMIT pushes the log past 1,000 pages: that commit
then copies ~4 MB and syncs the file, several milliseconds during which the event loop answers
nobody (measured: every ~40th group commit took 5-9 ms instead of 0.1-0.2 ms). The Checkpointer
runs PASSIVE checkpoints from its own connection every `interval` seconds; they copy what no reader
still needs and never block a writer, and SQLite releases the GIL while it copies.

A checkpoint that copied the whole log lets the next commit write the log from its start again,
but only if no commit came in between. Under a steady stream of commits that seldom happens, so
the log grows to the writer's own automatic checkpoint, kept on as a backstop (`BACKSTOP_PAGES`,
~40 MB): that commit copies only the frames this thread has not (at most `interval`'s worth) and
restarts the log. Measured with 8 webhooks per commit in process: the log peaked at the backstop,
and commits over 3x the median went from 24-26 to 5-8 in 1,000.
"""

from __future__ import annotations

import sqlite3
import threading

import structlog

log = structlog.get_logger("chatflow.store")

INTERVAL = 0.1  # seconds between checkpoints
BACKSTOP_PAGES = 10_000  # the writer's own automatic checkpoint (~40 MB of log), if this one lags


class Checkpointer:
    def __init__(self, path: str, interval: float = INTERVAL) -> None:
        self.path = path
        self.interval = interval
        self.runs = 0  # checkpoints that copied every frame (tests and benches read these)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the checkpoint in progress; the last commits are checkpointed on close."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def checkpoint(self, conn: sqlite3.Connection) -> bool:
        """One PASSIVE checkpoint; True when the log was copied whole."""
        ((busy, frames, copied),) = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        done = not busy and frames == copied
        self.runs += done
        return done

    def _run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as exc:  # the writer's backstop checkpoints meanwhile
                    log.warning("WAL checkpoint failed; retrying", error=str(exc))
        finally:
            conn.close()
