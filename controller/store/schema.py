"""The SQLite schema as ordered migrations, and the runner that applies them at open."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from controller.store.base import StoreError

# PRAGMA application_id marks the file as a chatflow state database ("CFLW").
APPLICATION_ID = 0x43464C57


@dataclass(frozen=True)
class Migration:
    version: int
    summary: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "lifecycle: flows, accounts, revisions, transitions",
        (
            # Revisions are immutable and outlive their flow: a conversation started on one
            # finishes on it, and a name that comes back continues its numbering.
            """CREATE TABLE revisions (
                flow TEXT NOT NULL,
                hash TEXT NOT NULL,
                number INTEGER NOT NULL,
                commit_sha TEXT,
                spec_json TEXT NOT NULL,
                keywords TEXT NOT NULL,
                created_at TEXT NOT NULL,
                PRIMARY KEY (flow, hash),
                UNIQUE (flow, number)
            )""",
            """CREATE TRIGGER revisions_immutable BEFORE UPDATE ON revisions
               BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END""",
            """CREATE TRIGGER revisions_kept BEFORE DELETE ON revisions
               BEGIN SELECT RAISE(ABORT, 'revisions are immutable'); END""",
            # `account` is a name, not a foreign key: an unpublished flow may keep naming an
            # account that was deleted (publish then refuses until it is bound again).
            """CREATE TABLE flows (
                name TEXT PRIMARY KEY,
                trigger TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('published', 'unpublished')),
                account TEXT,
                display_name TEXT,
                remark TEXT,
                logging INTEGER NOT NULL CHECK (logging IN (0, 1)),
                keywords TEXT NOT NULL,
                revision TEXT NOT NULL,
                live_revision TEXT,
                commit_sha TEXT,
                FOREIGN KEY (name, revision) REFERENCES revisions (flow, hash),
                FOREIGN KEY (name, live_revision) REFERENCES revisions (flow, hash),
                CHECK ((state = 'published') = (live_revision IS NOT NULL))
            )""",
            "CREATE INDEX flows_account ON flows (account) WHERE account IS NOT NULL",
            """CREATE TABLE accounts (
                name TEXT PRIMARY KEY,
                channel TEXT NOT NULL,
                channel_id TEXT,
                spec_hash TEXT NOT NULL,
                spec_json TEXT NOT NULL,
                commit_sha TEXT
            )""",
            "CREATE UNIQUE INDEX accounts_channel_id ON accounts (channel, channel_id) WHERE channel_id IS NOT NULL",
            """CREATE TABLE transitions (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                action TEXT NOT NULL,
                from_state TEXT,
                to_state TEXT,
                revision TEXT,
                commit_sha TEXT,
                at TEXT NOT NULL,
                detail TEXT NOT NULL
            )""",
            "CREATE INDEX transitions_name ON transitions (name, seq)",
            """CREATE TRIGGER transitions_append_only_update BEFORE UPDATE ON transitions
               BEGIN SELECT RAISE(ABORT, 'the transition history is append-only'); END""",
            """CREATE TRIGGER transitions_append_only_delete BEFORE DELETE ON transitions
               BEGIN SELECT RAISE(ABORT, 'the transition history is append-only'); END""",
        ),
    ),
    Migration(
        2,
        "status: conditions and the reconcile record",
        (
            """CREATE TABLE conditions (
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                type TEXT NOT NULL,
                position INTEGER NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('True', 'False', 'Unknown')),
                reason TEXT NOT NULL,
                message TEXT NOT NULL,
                last_transition_time TEXT NOT NULL,
                PRIMARY KEY (kind, name, type)
            )""",
            """CREATE TABLE reconcile (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                commit_sha TEXT,
                at TEXT,
                duration_ms REAL,
                result TEXT
            )""",
        ),
    ),
    Migration(
        3,
        "parse cache keyed by git blob id",
        ("CREATE TABLE parse_cache (blob_id TEXT PRIMARY KEY, payload BLOB NOT NULL) WITHOUT ROWID",),
    ),
    Migration(
        4,
        "runtime: sessions (with their deadlines), dedupe records, outbox, execution events",
        (
            # Rows in insertion order (rowid) are conversations in start order. One live session
            # per conversation (sessions_live); ended ones stay until pruned. `version` makes every
            # write a compare-and-set. A session's deadline is its timer (sessions_due). Indexed
            # columns never change while a session is live, so a step rewrites no index but the
            # deadline's.
            """CREATE TABLE sessions (
                id TEXT NOT NULL UNIQUE,
                channel TEXT NOT NULL,
                account TEXT NOT NULL,
                address TEXT NOT NULL,
                flow TEXT NOT NULL,
                revision TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('active', 'waiting', 'handed_over', 'ended', 'expired')),
                live INTEGER NOT NULL CHECK (live IN (0, 1)),
                data TEXT NOT NULL,
                started_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                deadline_at TEXT,
                deadline_kind TEXT,
                out_id TEXT,
                version INTEGER NOT NULL,
                CHECK ((deadline_at IS NULL) = (deadline_kind IS NULL))
            )""",
            "CREATE UNIQUE INDEX sessions_live ON sessions (channel, account, address) WHERE live = 1",
            "CREATE INDEX sessions_flow ON sessions (flow)",
            "CREATE INDEX sessions_due ON sessions (deadline_at) WHERE deadline_at IS NOT NULL",
            "CREATE INDEX sessions_ended ON sessions (updated_at) WHERE live = 0",
            # seq follows time, so pruning deletes from the front without an index on `at`.
            """CREATE TABLE dedupe (
                seq INTEGER PRIMARY KEY,
                scope TEXT NOT NULL,
                key TEXT NOT NULL,
                at TEXT NOT NULL,
                result TEXT,
                UNIQUE (scope, key)
            )""",
            # Ids only grow while unsent rows exist, so id order is queue order per conversation.
            """CREATE TABLE outbox (
                id INTEGER PRIMARY KEY,
                conversation TEXT NOT NULL,
                channel TEXT NOT NULL,
                account TEXT NOT NULL,
                recipient TEXT NOT NULL,
                message TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'sent', 'delivered', 'read', 'failed')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at TEXT NOT NULL,
                channel_message_id TEXT,
                error_code TEXT,
                error_title TEXT,
                repeats INTEGER NOT NULL DEFAULT 0,
                session_id TEXT,
                flow TEXT,
                revision TEXT,
                node TEXT,
                logging INTEGER NOT NULL CHECK (logging IN (0, 1)),
                created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            "CREATE INDEX outbox_unsent ON outbox (conversation, id) WHERE status IN ('pending', 'sending')",
            "CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending'",
            "CREATE INDEX outbox_channel_id ON outbox (channel, channel_message_id) WHERE channel_message_id IS NOT NULL",
            "CREATE INDEX outbox_session ON outbox (session_id)",
            "CREATE INDEX outbox_finished ON outbox (updated_at) WHERE status NOT IN ('pending', 'sending')",
            # A status that arrives before the send that it is about has been recorded.
            """CREATE TABLE early_statuses (
                channel TEXT NOT NULL,
                message_id TEXT NOT NULL,
                status TEXT NOT NULL,
                error_code TEXT,
                error_title TEXT,
                at TEXT NOT NULL,
                PRIMARY KEY (channel, message_id, status)
            ) WITHOUT ROWID""",
            """CREATE TABLE events (
                seq INTEGER PRIMARY KEY,
                session_id TEXT NOT NULL,
                flow TEXT NOT NULL,
                revision TEXT NOT NULL,
                node TEXT,
                type TEXT NOT NULL,
                time TEXT NOT NULL,
                fields TEXT NOT NULL
            )""",
            "CREATE INDEX events_session ON events (session_id)",
            "CREATE INDEX events_flow ON events (flow)",
        ),
    ),
    Migration(
        5,
        "tree index: the documents of the last reconciled commit, for incremental apply",
        (
            """CREATE TABLE tree_docs (
                path TEXT NOT NULL,
                idx INTEGER NOT NULL,
                blob TEXT NOT NULL,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                account TEXT,
                refs TEXT,
                record TEXT,
                PRIMARY KEY (path, idx)
            ) WITHOUT ROWID""",
            "CREATE INDEX tree_docs_name ON tree_docs (name)",
            "CREATE INDEX tree_docs_account ON tree_docs (account) WHERE account IS NOT NULL",
            """CREATE TABLE tree_head (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                commit_sha TEXT NOT NULL,
                clean INTEGER NOT NULL
            )""",
        ),
    ),
)

VERSION = MIGRATIONS[-1].version


def migrate(conn: sqlite3.Connection, where: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Bring the database up to the newest version, one transaction per migration.

    Returns the version found before migrating. The connection must be in autocommit mode
    (isolation_level=None) so that each BEGIN here is the transaction's real start.
    """
    newest = migrations[-1].version if migrations else 0
    found = _version(conn)
    _check(conn, where, found, newest)
    for migration in migrations:
        if migration.version <= found:
            continue
        # IMMEDIATE takes the write lock first, so two processes opening the same new file
        # cannot both run a migration: the second waits, then sees it done and skips it.
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = _version(conn)
            if current >= migration.version:
                conn.execute("ROLLBACK")
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _check(conn: sqlite3.Connection, where: str, found: int, newest: int) -> None:
    app = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if app not in (0, APPLICATION_ID):
        raise StoreError(
            f"{where} is an SQLite database of another application (application_id {app:#x}), "
            "not a chatflow state database: point --state at another file"
        )
    if app == 0 and found == 0:
        tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        if tables:
            raise StoreError(
                f"{where} already holds {tables} table(s) but is not a chatflow state database: "
                "point --state at another file"
            )
    if found > newest:
        raise StoreError(
            f"{where} has schema version {found}, newer than this chatflow understands ({newest}): "
            "upgrade chatflow, or point --state at another file"
        )
