"""The WAL checkpointer: the log is copied into the database from its own thread, so the server's
commits never do it, and the log stays bounded instead of growing with every commit."""

from __future__ import annotations

import datetime as _dt
import sqlite3
import time
from pathlib import Path

from controller.store.checkpoint import BACKSTOP_PAGES, Checkpointer
from controller.store.records import Dedupe, Work
from controller.store.sqlite import SQLiteStore

NOW = _dt.datetime(2026, 11, 26, 12, 0, tzinfo=_dt.timezone.utc)
PAGE = 4096


def write_batch(store: SQLiteStore, batch: int, commits: int = 200) -> None:
    """About 1,000 pages of log: dedupe records with 8 KiB results, one commit each."""
    for i in range(commits):
        store.commit(Work(NOW, Dedupe("whatsapp", f"wamid.{batch}.{i}", "x" * 8192)))


def wal_pages(path: Path) -> int:
    wal = Path(f"{path}-wal")
    return wal.stat().st_size // PAGE if wal.exists() else 0


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_with_the_checkpointer_running_the_log_stays_bounded_and_nothing_is_lost(tmp_path: Path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    store.autocheckpoint(BACKSTOP_PAGES)  # as serve runs it: the commits themselves never copy the log
    checkpointer = Checkpointer(str(path), interval=0.01)
    checkpointer.start()
    try:
        for batch in range(8):
            write_batch(store, batch)
            runs = checkpointer.runs
            wait_for(lambda: checkpointer.runs >= runs + 2)  # one that began after the batch
        # a complete checkpoint lets the next commit write the log from its start again: eight
        # batches of ~1,000 pages (~5 per commit) never make a log of 8,000
        assert wal_pages(path) < 2500
    finally:
        checkpointer.stop()
    assert store.seen("whatsapp", "wamid.7.199") is not None
    store.close()
    with sqlite3.connect(path) as conn:  # what a reader of the database file alone sees
        assert conn.execute("SELECT count(*) FROM dedupe").fetchone()[0] == 8 * 200


def test_without_it_the_backstop_lets_the_log_grow_past_sqlites_default(tmp_path: Path):
    """The measure of what the thread takes over: with the backstop alone, no commit copies the
    log at SQLite's default 1,000 pages (the copy that used to stall the event loop)."""
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    store.autocheckpoint(BACKSTOP_PAGES)
    for batch in range(3):
        write_batch(store, batch)
    assert wal_pages(path) > 3000
    store.close()


def test_stop_ends_the_thread_and_a_stopped_checkpointer_can_be_stopped_again(tmp_path: Path):
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    checkpointer = Checkpointer(str(path), interval=0.01)
    checkpointer.start()
    thread = checkpointer._thread
    checkpointer.stop()
    assert thread is not None and not thread.is_alive()
    checkpointer.stop()
