"""Recently read or written live sessions, so the next input of a busy conversation skips reading its
session back from the store (a query, the JSON, the objects).

Only ever a shortcut: every session write is a compare-and-set on the version read, so an entry
that another writer has made stale (another process, an operator) ends in a conflict; the host
then drops it and builds again from the store. Entries are added only after their commit.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from controller.engine.session import ConversationKey
from controller.store.records import SessionRow, SessionWrite

SIZE = 4096  # conversations remembered (least recently used go first)


class RecentSessions:
    """Safe from any thread: a build that calls a blocking service runs in a worker thread."""

    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._rows: OrderedDict[ConversationKey, SessionRow] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: ConversationKey) -> SessionRow | None:
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
            return row

    def read(self, row: SessionRow) -> None:
        """A live session as just read from the store."""
        if row.session.is_final:
            return
        with self._lock:
            self._rows[row.key] = row
            self._rows.move_to_end(row.key)
            if len(self._rows) > self.size:
                self._rows.popitem(last=False)

    def wrote(self, writes: Iterable[SessionWrite]) -> None:
        """Sessions committed: a live one is remembered at the version the store now has; an ended
        one is forgotten. An update of a row not remembered at the version it was read at is
        forgotten too (its `out_id`, kept by the store, is not known here)."""
        with self._lock:
            self._wrote(list(writes))

    def _wrote(self, writes: list[SessionWrite]) -> None:
        for write in writes:  # ended ones first: a unit may end one session and start the next
            if write.session.is_final:
                self._forget(write)
        for write in writes:
            s = write.session
            if s.is_final:
                continue
            if write.expected_version is None:
                row = SessionRow(s, 1, write.out_id)
            else:
                known = self._rows.get(s.key)
                if known is None or known.id != s.id or known.version != write.expected_version:
                    self._rows.pop(s.key, None)
                    continue
                row = SessionRow(s, write.expected_version + 1, write.out_id or known.out_id)
            self._rows[s.key] = row
            self._rows.move_to_end(s.key)
        while len(self._rows) > self.size:
            self._rows.popitem(last=False)

    def forget(self, writes: Iterable[SessionWrite]) -> None:
        """A unit that did not commit (a conflict, an error): its conversations are read again."""
        with self._lock:
            for write in writes:
                self._rows.pop(write.session.key, None)

    def _forget(self, write: SessionWrite) -> None:
        known = self._rows.get(write.session.key)
        if known is not None and known.id == write.session.id:
            del self._rows[write.session.key]
