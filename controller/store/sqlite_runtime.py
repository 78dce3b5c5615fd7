"""The runtime's tables on SQLite: the unit-of-work commit, sessions, timers, outbox, events, pruning.

Mixed into SQLiteStore; uses its connection, its lock and its transaction helpers.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Callable

from controller.engine.events import Execution
from controller.engine.session import FINAL, ConversationKey, Session

from .base import WriterBusy
from .records import (
    Committed,
    EventQuery,
    EventRow,
    NewMessage,
    OutboxRow,
    Pruned,
    Retention,
    RuntimeCounts,
    Seen,
    SendResult,
    SessionRow,
    SessionWrite,
    StatusChange,
    TimerRow,
    Work,
    stamp,
    unstamp,
)

LIVE_KEYS_PAGE = 10_000  # keys per read of live_keys(): each page is its own short read
PRUNE_CHUNK = 2000  # rows per delete statement: each chunk is its own short transaction
RANK = {"pending": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}

_SESSION_COLUMNS = "data, version, out_id"
_OUTBOX_COLUMNS = (
    "id, conversation, channel, account, recipient, message, status, attempts, next_attempt_at, "
    "channel_message_id, error_code, error_title, repeats, session_id, flow, revision, node, logging, "
    "created_at, updated_at"
)


class _Isolate(Exception):
    """A unit of a batch conflicted or failed: run the batch again with a savepoint per unit."""


_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode  # one, not one per call


def _json(value: Any) -> str:
    return _ENCODE(value)


class RuntimeTables:
    """The runtime half of SQLiteStore (see StateStore for what each method promises)."""

    _lock: threading.RLock
    _conn: sqlite3.Connection
    _busy_ms: int  # the connection's busy timeout
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # -- the unit of work ---------------------------------------------------------------------
    def commit(self, work: Work, before_commit: Callable[[], None] | None = None) -> Committed:
        (outcome,) = self.commit_many([work], before_commit)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def commit_many(self, works: Sequence[Work], before_commit: Callable[[], None] | None = None, *,
                    wait: bool = True) -> list[Committed | Exception]:
        """Group commit in one transaction. The usual batch has no conflict and no error, so it
        runs without savepoints (a duplicate writes nothing before it is found); a batch with one
        runs again with a savepoint per unit, so that unit alone is rolled back."""
        if not works:
            return []
        with self._lock:
            try:
                return self._batch(works, before_commit, savepoints=False, wait=wait)
            except _Isolate:
                return self._batch(works, before_commit, savepoints=True, wait=wait)

    def _begin_now(self) -> None:
        """BEGIN IMMEDIATE without SQLite's busy handler, whose first sleep is a whole millisecond
        however soon the other writer is done."""
        conn = self._conn
        conn.execute("PRAGMA busy_timeout = 0")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:
                raise WriterBusy(str(exc)) from None
            raise
        finally:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")

    def _batch(self, works: Sequence[Work], before_commit: Callable[[], None] | None,
               savepoints: bool, wait: bool) -> list[Committed | Exception]:
        conn = self._conn
        alone = len(works) == 1
        results: list[Committed | Exception] = []
        if wait:
            conn.execute("BEGIN IMMEDIATE")
        else:
            self._begin_now()
        try:
            for work in works:
                if savepoints:
                    conn.execute("SAVEPOINT unit")
                try:
                    outcome: Committed | Exception = self._apply_work(conn, work, stamp(work.now))
                except sqlite3.Error as exc:
                    if alone:
                        raise
                    outcome = exc
                clean = isinstance(outcome, Committed) and outcome.outcome != "conflict"
                if savepoints:
                    conn.execute("RELEASE unit" if clean else "ROLLBACK TO unit")
                    if not clean:
                        conn.execute("RELEASE unit")
                elif not clean:
                    if not alone:
                        raise _Isolate()
                    conn.execute("ROLLBACK")  # nothing of it may stay: not even its dedupe record
                    return [outcome]
                results.append(outcome)
            if before_commit is not None:
                before_commit()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _apply_work(self, conn: sqlite3.Connection, work: Work, now: str) -> Committed:
        if work.dedupe is not None:
            d = work.dedupe
            inserted = conn.execute(
                "INSERT INTO dedupe (scope, key, at, result) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (d.scope, d.key, now, d.result),
            ).rowcount
            if not inserted:
                row = conn.execute("SELECT result FROM dedupe WHERE scope = ? AND key = ?", (d.scope, d.key)).fetchone()
                return Committed("duplicate", result=row[0] if row else None)
        for write in work.sessions:
            problem = _write_session(conn, write)
            if problem is not None:
                return Committed("conflict", detail=problem)
        ids = tuple(_insert_message(conn, m, now) for m in work.messages)
        if work.events:
            conn.executemany(
                "INSERT INTO events (session_id, flow, revision, node, type, time, fields) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [_event_row(e) for e in work.events],
            )
        for change in work.statuses:
            _apply_status(conn, change, now)
        return Committed("applied", message_ids=ids)

    def seen(self, scope: str, key: str) -> Seen | None:
        with self._lock:
            row = self._conn.execute("SELECT at, result FROM dedupe WHERE scope = ? AND key = ?", (scope, key)).fetchone()
        return Seen(scope, key, unstamp(row[0]), row[1]) if row else None

    # -- sessions -----------------------------------------------------------------------------
    def session(self, session_id: str) -> SessionRow | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return _session_row(row) if row else None

    def live_session(self, key: ConversationKey) -> SessionRow | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE channel = ? AND account = ? AND address = ? AND live = 1",
                (key.channel, key.account, key.address),
            ).fetchone()
        return _session_row(row) if row else None

    def live_keys(self) -> Iterator[ConversationKey]:
        after: tuple[str, str, str] = ("", "", "")
        while True:  # in pages along the index: no read transaction stays open between them
            with self._lock:
                rows = self._conn.execute(
                    "SELECT channel, account, address FROM sessions WHERE live = 1 AND (channel, account, address) > "
                    "(?, ?, ?) ORDER BY channel, account, address LIMIT ?", (*after, LIVE_KEYS_PAGE)).fetchall()
            for row in rows:
                yield ConversationKey(*row)
            if len(rows) < LIVE_KEYS_PAGE:
                return
            after = rows[-1]

    def sessions(self, flow: str | None = None, status: str | None = None, limit: int = 100) -> list[SessionRow]:
        where, args = [], []
        if flow is not None:
            where.append("flow = ?")
            args.append(flow)
        if status == "live":
            where.append("live = 1")
        elif status is not None:
            where.append("status = ?")
            args.append(status)
        sql = f"SELECT {_SESSION_COLUMNS} FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY rowid DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, max(0, int(limit)))).fetchall()
        return [_session_row(r) for r in rows]

    # -- timers -------------------------------------------------------------------------------
    def due_timers(self, now: _dt.datetime, limit: int = 100) -> list[TimerRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, channel, account, address, deadline_at, deadline_kind FROM sessions "
                "WHERE deadline_at <= ? ORDER BY deadline_at LIMIT ?",
                (stamp(now), int(limit)),
            ).fetchall()
        return [TimerRow(r[0], ConversationKey(r[1], r[2], r[3]), unstamp(r[4]), r[5]) for r in rows]

    def next_timer_at(self) -> _dt.datetime | None:
        with self._lock:
            row = self._conn.execute("SELECT MIN(deadline_at) FROM sessions WHERE deadline_at IS NOT NULL").fetchone()
        return unstamp(row[0]) if row and row[0] else None

    # -- outbox -------------------------------------------------------------------------------
    def claim_messages(self, now: _dt.datetime, limit: int) -> list[OutboxRow]:
        if limit <= 0:
            return []
        at = stamp(now)
        with self._write() as conn:
            rows = conn.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox AS o WHERE o.status = 'pending' AND o.next_attempt_at <= ? "
                "AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.conversation = o.conversation "
                "AND p.status IN ('pending', 'sending') AND p.id < o.id) "
                "ORDER BY o.next_attempt_at, o.id LIMIT ?",
                (at, int(limit)),
            ).fetchall()
            if rows:
                conn.executemany(
                    "UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?",
                    [(at, r[0]) for r in rows],
                )
        return [_outbox_row(r, status="sending", attempts=r[7] + 1, updated_at=at) for r in rows]

    def settle_messages(self, results: Sequence[SendResult], now: _dt.datetime,
                        before_commit: Callable[[], None] | None = None) -> None:
        if not results:
            return
        at = stamp(now)
        with self._write() as conn:
            for result in results:
                _settle(conn, result, at)
            if before_commit is not None:
                before_commit()

    def recover_messages(self, now: _dt.datetime) -> int:
        with self._write() as conn:
            return conn.execute(
                "UPDATE outbox SET status = 'pending', repeats = repeats + 1, updated_at = ? WHERE status = 'sending'",
                (stamp(now),),
            ).rowcount

    def next_message_at(self) -> _dt.datetime | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(o.next_attempt_at) FROM outbox AS o WHERE o.status = 'pending' "
                "AND NOT EXISTS (SELECT 1 FROM outbox AS p WHERE p.conversation = o.conversation "
                "AND p.status IN ('pending', 'sending') AND p.id < o.id)"
            ).fetchone()
        return unstamp(row[0]) if row and row[0] else None

    def messages(self, session_id: str | None = None, conversation: str | None = None,
                 limit: int = 1000) -> list[OutboxRow]:
        where, args = [], []
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if conversation is not None:
            where.append("conversation = ?")
            args.append(conversation)
        sql = f"SELECT {_OUTBOX_COLUMNS} FROM outbox"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, int(limit))).fetchall()
        return [_outbox_row(r) for r in rows]

    # -- events -------------------------------------------------------------------------------
    def events(self, query: EventQuery = EventQuery()) -> list[EventRow]:
        where, args = [], []
        if query.session_id is not None:
            where.append("session_id = ?")
            args.append(query.session_id)
        if query.flow is not None:
            where.append("flow = ?")
            args.append(query.flow)
        if query.since is not None:
            where.append("time >= ?")
            args.append(stamp(query.since))
        if query.after_seq is not None:
            where.append("seq > ?")
            args.append(int(query.after_seq))
        if query.types:
            where.append(f"type IN ({','.join('?' * len(query.types))})")
            args.extend(query.types)
        sql = "SELECT seq, session_id, flow, revision, node, type, time, fields FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?" if query.newest else " ORDER BY seq LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, max(0, int(query.limit)))).fetchall()
        if query.newest:
            rows.reverse()
        return [
            EventRow(seq, Execution(type_, session_id, flow, revision, node, unstamp(time), json.loads(fields)))
            for seq, session_id, flow, revision, node, type_, time, fields in rows
        ]

    # -- counts -------------------------------------------------------------------------------
    def counts(self) -> RuntimeCounts:
        with self._lock:
            outbox = self._conn.execute(
                "SELECT channel, status, count(*), sum(repeats) FROM outbox GROUP BY channel, status").fetchall()
            sessions = self._conn.execute("SELECT status, count(*) FROM sessions WHERE live = 1 GROUP BY status").fetchall()
            timers = self._conn.execute("SELECT count(*) FROM sessions WHERE deadline_at IS NOT NULL").fetchone()[0]
        repeats: dict[str, int] = {}
        for channel, _, _, n in outbox:
            repeats[channel] = repeats.get(channel, 0) + int(n or 0)
        return RuntimeCounts(outbox={(channel, status): n for channel, status, n, _ in outbox}, repeats=repeats,
                             sessions=dict(sessions), timers=int(timers))

    # -- retention ----------------------------------------------------------------------------
    def prune(self, retention: Retention) -> Pruned:
        dedupe_before = stamp(retention.dedupe_before)
        counts = {
            # rows are in time order: delete from the front up to the first one to keep
            "dedupe": self._prune("DELETE FROM dedupe WHERE seq IN (SELECT seq FROM dedupe WHERE seq < "
                                  "COALESCE((SELECT seq FROM dedupe WHERE at >= ?1 ORDER BY seq LIMIT 1), "
                                  "(SELECT MAX(seq) + 1 FROM dedupe)) ORDER BY seq LIMIT ?2)", dedupe_before),
            "statuses": self._prune("DELETE FROM early_statuses WHERE (channel, message_id, status) IN "
                                    "(SELECT channel, message_id, status FROM early_statuses WHERE at < ?1 LIMIT ?2)",
                                    dedupe_before),
            "outbox": self._prune("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE "
                                  "status NOT IN ('pending', 'sending') AND updated_at < ?1 LIMIT ?2)",
                                  stamp(retention.outbox_before)),
            "sessions": self._prune("DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions WHERE "
                                    "live = 0 AND updated_at < ?1 LIMIT ?2)", stamp(retention.sessions_before)),
            "events": self._prune("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE seq < "
                                  "COALESCE((SELECT seq FROM events WHERE time >= ?1 ORDER BY seq LIMIT 1), "
                                  "(SELECT MAX(seq) + 1 FROM events)) ORDER BY seq LIMIT ?2)",
                                  stamp(retention.events_before)),
        }
        return Pruned(**counts)

    def _prune(self, sql: str, before: str) -> int:
        total = 0
        while True:
            with self._write() as conn:
                deleted = conn.execute(sql, (before, PRUNE_CHUNK)).rowcount
            total += deleted
            if deleted < PRUNE_CHUNK:
                return total


# ---- writes inside a transaction -------------------------------------------------------------


def _write_session(conn: sqlite3.Connection, write: SessionWrite) -> str | None:
    """Insert or compare-and-set one session; its deadline is its timer. A problem as text."""
    s = write.session
    live = 0 if s.status in FINAL else 1
    deadline = s.deadline
    due = stamp(deadline.at) if deadline is not None else None
    kind = deadline.kind if deadline is not None else None
    data = _json(s.to_json())
    if write.expected_version is None:
        try:
            conn.execute(
                "INSERT INTO sessions (id, channel, account, address, flow, revision, status, live, data, started_at, "
                "updated_at, deadline_at, deadline_kind, out_id, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (s.id, s.key.channel, s.key.account, s.key.address, s.flow, s.revision, s.status, live, data,
                 stamp(s.started_at), stamp(s.updated_at), due, kind, write.out_id),
            )
        except sqlite3.IntegrityError:
            return f"conversation {s.key} already has a live session (or session {s.id} exists)"
        return None
    # indexed columns are set only when they change: an ordinary step touches the deadline's alone
    sets = "status = ?, data = ?, updated_at = ?, deadline_at = ?, deadline_kind = ?, version = version + 1"
    args: list[Any] = [s.status, data, stamp(s.updated_at), due, kind]
    if not live:
        sets += ", live = 0"
    if write.out_id is not None:
        sets += ", out_id = ?"
        args.append(write.out_id)
    changed = conn.execute(f"UPDATE sessions SET {sets} WHERE id = ? AND version = ?",
                           (*args, s.id, write.expected_version)).rowcount
    if not changed:
        return f"session {s.id} changed since version {write.expected_version} was read"
    return None


def _insert_message(conn: sqlite3.Connection, m: NewMessage, now: str) -> int:
    cursor = conn.execute(
        "INSERT INTO outbox (conversation, channel, account, recipient, message, status, next_attempt_at, error_code, "
        "error_title, session_id, flow, revision, node, logging, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (m.conversation, m.channel, m.account, m.to, _json(dict(m.message)), m.status, now, m.error_code,
         m.error_title, m.session_id, m.flow, m.revision, m.node, int(m.logging), now, now),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _event_row(e: Execution) -> tuple:
    return (e.conversation, e.flow, e.revision, e.node, e.type, stamp(e.time), _json(dict(e.fields)))


def _message_event(conn: sqlite3.Connection, row: tuple, type_: str, at: str, **fields: Any) -> None:
    """An execution event about an outbox row (id, logging, session_id, flow, revision, node)."""
    row_id, logging, session_id, flow, revision, node = row
    if not logging or session_id is None:
        return
    conn.execute(
        "INSERT INTO events (session_id, flow, revision, node, type, time, fields) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (session_id, flow or "", revision or "", node, type_, at, _json({"outbox": row_id, **fields})),
    )


_ROW_FOR_EVENT = "id, logging, session_id, flow, revision, node"


def _apply_status(conn: sqlite3.Connection, change: StatusChange, at: str) -> None:
    row = conn.execute(
        f"SELECT {_ROW_FOR_EVENT}, status FROM outbox WHERE channel = ? AND channel_message_id = ? ORDER BY id LIMIT 1",
        (change.channel, change.message_id),
    ).fetchone()
    if row is None:
        # the send that this status is about is not recorded yet: keep it for when it is
        conn.execute(
            "INSERT INTO early_statuses (channel, message_id, status, error_code, error_title, at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (change.channel, change.message_id, change.status, change.error_code, change.error_title, at),
        )
        return
    _move(conn, row[:6], row[6], change.status, change.error_code, change.error_title, change.message_id, at)


def _move(conn: sqlite3.Connection, row: tuple, current: str, new: str, code: str | None, title: str | None,
          message_id: str, at: str) -> None:
    """Statuses only move forward (sent < delivered < read); failed replaces sent or delivered."""
    if new == "failed":
        if current not in ("sent", "delivered"):
            return
        conn.execute("UPDATE outbox SET status = 'failed', error_code = ?, error_title = ?, updated_at = ? WHERE id = ?",
                     (code, title, at, row[0]))
        _message_event(conn, row, "message.failed", at, messageId=message_id, code=code, title=title, by="status")
        return
    if current == "failed" or RANK.get(new, 0) <= RANK.get(current, 0):
        return
    conn.execute("UPDATE outbox SET status = ?, updated_at = ? WHERE id = ?", (new, at, row[0]))
    _message_event(conn, row, f"message.{new}", at, messageId=message_id)


def _settle(conn: sqlite3.Connection, result: SendResult, at: str) -> None:
    row = conn.execute(f"SELECT {_ROW_FOR_EVENT}, channel, status FROM outbox WHERE id = ?", (result.id,)).fetchone()
    if row is None or row[7] != "sending":
        return  # pruned or settled already
    event_row, channel = row[:6], row[6]
    maybe = 1 if result.maybe_delivered else 0
    if result.outcome == "sent":
        conn.execute(
            "UPDATE outbox SET status = 'sent', channel_message_id = ?, error_code = NULL, error_title = NULL, "
            "updated_at = ? WHERE id = ?",
            (result.message_id, at, result.id),
        )
        _message_event(conn, event_row, "message.sent", at, messageId=result.message_id)
        if result.message_id is not None:
            early = conn.execute(
                "SELECT status, error_code, error_title FROM early_statuses WHERE channel = ? AND message_id = ?",
                (channel, result.message_id),
            ).fetchall()
            current = "sent"
            for status, code, title in sorted(early, key=lambda r: RANK.get(r[0], 9)):
                _move(conn, event_row, current, status, code, title, result.message_id, at)
                current = conn.execute("SELECT status FROM outbox WHERE id = ?", (result.id,)).fetchone()[0]
            if early:
                conn.execute("DELETE FROM early_statuses WHERE channel = ? AND message_id = ?", (channel, result.message_id))
    elif result.outcome == "retry":
        assert result.next_attempt_at is not None, "a retry needs its next attempt time"
        conn.execute(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, error_code = ?, error_title = ?, "
            "repeats = repeats + ?, updated_at = ? WHERE id = ?",
            (stamp(result.next_attempt_at), result.error_code, result.error_title, maybe, at, result.id),
        )
    else:
        conn.execute(
            "UPDATE outbox SET status = 'failed', error_code = ?, error_title = ?, repeats = repeats + ?, "
            "updated_at = ? WHERE id = ?",
            (result.error_code, result.error_title, maybe, at, result.id),
        )
        _message_event(conn, event_row, "message.failed", at, code=result.error_code, title=result.error_title)


# ---- rows ------------------------------------------------------------------------------------


def _session_row(row: tuple) -> SessionRow:
    data, version, out_id = row
    return SessionRow(Session.from_json(json.loads(data)), int(version), out_id)


def _outbox_row(row: tuple, **override: Any) -> OutboxRow:
    (id_, conversation, channel, account, recipient, message, status, attempts, next_at, channel_id, code, title,
     repeats, session_id, flow, revision, node, logging, created, updated) = row
    values: dict[str, Any] = {
        "id": id_, "conversation": conversation, "channel": channel, "account": account, "to": recipient,
        "message": json.loads(message), "status": status, "attempts": attempts, "next_attempt_at": next_at,
        "channel_message_id": channel_id, "error_code": code, "error_title": title, "repeats": repeats,
        "session_id": session_id, "flow": flow, "revision": revision, "node": node, "logging": bool(logging),
        "created_at": created, "updated_at": updated,
    }
    values.update(override)
    for name in ("next_attempt_at", "created_at", "updated_at"):
        values[name] = unstamp(values[name])
    return OutboxRow(**values)

