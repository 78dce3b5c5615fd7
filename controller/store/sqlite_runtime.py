"""The runtime's tables on SQLite: the unit-of-work commit, sessions, timers, outbox, events, pruning.

Mixed into SQLiteStore; uses its connection, its lock and its transaction helpers.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Callable

from controller.engine.events import Execution
from controller.engine.session import FINAL, ConversationKey, Session

from .records import (
    Committed,
    EventQuery,
    EventRow,
    NewMessage,
    OutboxRow,
    Pruned,
    Retention,
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

PRUNE_CHUNK = 2000  # rows per delete statement: each chunk is its own short transaction
RANK = {"pending": 0, "sending": 0, "sent": 1, "delivered": 2, "read": 3}

_SESSION_COLUMNS = "data, version, out_id"
_OUTBOX_COLUMNS = (
    "id, conversation, channel, account, recipient, message, status, attempts, next_attempt_at, "
    "channel_message_id, error_code, error_title, repeats, session_id, flow, revision, node, logging, "
    "created_at, updated_at"
)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class RuntimeTables:
    """The runtime half of SQLiteStore (see StateStore for what each method promises)."""

    _lock: threading.RLock
    _conn: sqlite3.Connection
    _write: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _read: Callable[[], AbstractContextManager[sqlite3.Connection]]

    # -- the unit of work ---------------------------------------------------------------------
    def commit(self, work: Work, before_commit: Callable[[], None] | None = None) -> Committed:
        now = stamp(work.now)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                outcome = self._apply_work(conn, work, now)
                if outcome is not None:
                    conn.execute("ROLLBACK")
                    return outcome
                ids = tuple(_insert_message(conn, m, now) for m in work.messages)
                if work.events:
                    conn.executemany(
                        "INSERT INTO events (session_id, flow, revision, node, type, time, fields) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [_event_row(e) for e in work.events],
                    )
                for change in work.statuses:
                    _apply_status(conn, change, now)
                if before_commit is not None:
                    before_commit()
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return Committed("applied", message_ids=ids)

    def _apply_work(self, conn: sqlite3.Connection, work: Work, now: str) -> Committed | None:
        """Dedupe and sessions; a Committed when the work must not be applied."""
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
        return None

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
        sql += " ORDER BY updated_at DESC, id LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, max(0, int(limit)))).fetchall()
        return [_session_row(r) for r in rows]

    # -- timers -------------------------------------------------------------------------------
    def due_timers(self, now: _dt.datetime, limit: int = 100) -> list[TimerRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT session_id, channel, account, address, due_at, kind FROM timers WHERE due_at <= ? "
                "ORDER BY due_at LIMIT ?",
                (stamp(now), int(limit)),
            ).fetchall()
        return [TimerRow(r[0], ConversationKey(r[1], r[2], r[3]), unstamp(r[4]), r[5]) for r in rows]

    def next_timer_at(self) -> _dt.datetime | None:
        with self._lock:
            row = self._conn.execute("SELECT MIN(due_at) FROM timers").fetchone()
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
        sql += " ORDER BY seq LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, (*args, max(0, int(query.limit)))).fetchall()
        return [
            EventRow(seq, Execution(type_, session_id, flow, revision, node, unstamp(time), json.loads(fields)))
            for seq, session_id, flow, revision, node, type_, time, fields in rows
        ]

    # -- retention ----------------------------------------------------------------------------
    def prune(self, retention: Retention) -> Pruned:
        dedupe_before = stamp(retention.dedupe_before)
        counts = {
            "dedupe": self._prune("DELETE FROM dedupe WHERE (scope, key) IN "
                                  "(SELECT scope, key FROM dedupe WHERE at < ? LIMIT ?)", dedupe_before),
            "statuses": self._prune("DELETE FROM early_statuses WHERE (channel, message_id, status) IN "
                                    "(SELECT channel, message_id, status FROM early_statuses WHERE at < ? LIMIT ?)",
                                    dedupe_before),
            "outbox": self._prune("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE "
                                  "status NOT IN ('pending', 'sending') AND updated_at < ? LIMIT ?)",
                                  stamp(retention.outbox_before)),
            "sessions": self._prune("DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE "
                                    "updated_at < ? AND live = 0 LIMIT ?)", stamp(retention.sessions_before)),
            "events": self._prune("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE time < ? LIMIT ?)",
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
    s = write.session
    live = 0 if s.status in FINAL else 1
    deadline = s.deadline
    data = _json(s.to_json())
    if write.expected_version is None:
        try:
            conn.execute(
                "INSERT INTO sessions (id, channel, account, address, flow, revision, status, live, data, started_at, "
                "updated_at, deadline_at, out_id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (s.id, s.key.channel, s.key.account, s.key.address, s.flow, s.revision, s.status, live, data,
                 stamp(s.started_at), stamp(s.updated_at), stamp(deadline.at) if deadline else None, write.out_id),
            )
        except sqlite3.IntegrityError:
            return f"conversation {s.key} already has a live session (or session {s.id} exists)"
    else:
        try:
            changed = conn.execute(
                "UPDATE sessions SET flow = ?, revision = ?, status = ?, live = ?, data = ?, updated_at = ?, "
                "deadline_at = ?, out_id = COALESCE(?, out_id), version = version + 1 WHERE id = ? AND version = ?",
                (s.flow, s.revision, s.status, live, data, stamp(s.updated_at), stamp(deadline.at) if deadline else None,
                 write.out_id, s.id, write.expected_version),
            ).rowcount
        except sqlite3.IntegrityError:
            return f"conversation {s.key} already has another live session"
        if not changed:
            return f"session {s.id} changed since version {write.expected_version} was read"
    if deadline is not None:
        conn.execute(
            "INSERT INTO timers (session_id, channel, account, address, due_at, kind) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session_id) DO UPDATE SET due_at = excluded.due_at, kind = excluded.kind",
            (s.id, s.key.channel, s.key.account, s.key.address, stamp(deadline.at), deadline.kind),
        )
    elif write.expected_version is not None:
        conn.execute("DELETE FROM timers WHERE session_id = ?", (s.id,))
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

