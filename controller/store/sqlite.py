"""StateStore on one SQLite file: WAL, synchronous=NORMAL, versioned schema (docs/store.md)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from controller.lifecycle.state import (
    ACCOUNT_ACTIONS,
    FLOW_ACTIONS,
    AccountRecord,
    Action,
    ActualState,
    FlowRecord,
    IllegalTransition,
    RevisionRecord,
    Transition,
)
from controller.store.base import Condition, ReconcileRecord, StateStore, StoreError, TreeDoc, TreeHead
from controller.store.paths import STATE_DIR
from controller.store.schema import migrate
from controller.store.sqlite_runtime import RuntimeTables

# Well under SQLite's bound-parameter limit (999 before 3.32), so any build takes it.
_CHUNK = 500
# An account is not a state machine: its transitions go from absent to present and back.
_PRESENT = "present"

_FLOW_SELECT = """
    SELECT f.name, f.trigger, f.state, f.account, f.display_name, f.remark, f.logging, f.keywords,
           f.revision, r.number, f.live_revision, l.number, f.commit_sha
    FROM flows AS f
    JOIN revisions AS r ON r.flow = f.name AND r.hash = f.revision
    LEFT JOIN revisions AS l ON l.flow = f.name AND l.hash = f.live_revision
"""
_FLOW_UPSERT = """
    INSERT INTO flows (name, trigger, state, account, display_name, remark, logging, keywords,
                       revision, live_revision, commit_sha)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET
        trigger = excluded.trigger, state = excluded.state, account = excluded.account,
        display_name = excluded.display_name, remark = excluded.remark, logging = excluded.logging,
        keywords = excluded.keywords, revision = excluded.revision,
        live_revision = excluded.live_revision, commit_sha = excluded.commit_sha
"""
_ACCOUNT_UPSERT = """
    INSERT INTO accounts (name, channel, channel_id, spec_hash, spec_json, commit_sha)
    VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET
        channel = excluded.channel, channel_id = excluded.channel_id, spec_hash = excluded.spec_hash,
        spec_json = excluded.spec_json, commit_sha = excluded.commit_sha
"""
_TRANSITION_INSERT = """
    INSERT INTO transitions (kind, name, action, from_state, to_state, revision, commit_sha, at, detail)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""
_REVISION_COLUMNS = "flow, hash, number, commit_sha, spec_json, created_at"
_TRANSITION_COLUMNS = "kind, name, action, from_state, to_state, revision, commit_sha, at, detail"


@dataclass(frozen=True)
class _Flow:
    """A flows row as one apply moves it from action to action (private to the transaction)."""

    trigger: str
    state: str
    account: str | None
    display_name: str | None
    remark: str | None
    logging: bool
    keywords: tuple[str, ...]
    revision: str
    live_revision: str | None
    commit: str | None


@dataclass(frozen=True)
class _Account:
    channel: str
    channel_id: str | None
    spec_hash: str
    spec_json: str
    commit: str | None


def _prepare_directory(directory: Path) -> None:
    """Create the state database's directory. The default one ignores itself in git, so that
    `git add -A` in the repository never stages the state: a database that changes while git
    reads it, and has no business in a manifest repository."""
    directory.mkdir(parents=True, exist_ok=True)
    ignore = directory / ".gitignore"
    if directory.name == STATE_DIR and not ignore.exists():
        ignore.write_text("# chatflow's state database: never committed\n*\n", encoding="utf-8")


class SQLiteStore(RuntimeTables, StateStore):
    """The embedded StateStore.

    Threads: the store holds one connection (opened with check_same_thread=False) and a lock
    that every call takes, so it may be shared between threads but serves one call at a time;
    open one store per thread for concurrent reads. Processes: several may open the same file;
    writers take turns (BEGIN IMMEDIATE and a busy timeout), readers never wait for writers (WAL).
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 10.0) -> None:
        self.path = str(path)
        memory = self.path == ":memory:"
        where = "the in-memory state database" if memory else f"state database {self.path}"
        self._lock = threading.RLock()
        self._busy_ms = int(busy_timeout * 1000)
        conn: sqlite3.Connection | None = None
        try:
            if not memory:
                _prepare_directory(Path(self.path).parent)
            conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False, cached_statements=256
            )
            conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")
            conn.execute("PRAGMA foreign_keys = ON")
            if not memory:
                conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            migrate(conn, where)
        except StoreError:
            if conn is not None:
                conn.close()
            raise
        except (sqlite3.Error, OSError) as e:
            if conn is not None:
                conn.close()
            raise StoreError(
                f"cannot open {where}: {e}; check that the path is a chatflow state database you may "
                "write, or point --state at another file"
            ) from e
        self._conn = conn

    # -- transactions -------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: the write lock is taken at BEGIN, so it never fails halfway
        for want of it; anything raised inside rolls everything back."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: several queries see one snapshot."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    # -- reading ------------------------------------------------------------------------------
    def actual(self) -> ActualState:
        with self._read() as conn:
            flows = {row[0]: _flow_record(row) for row in conn.execute(_FLOW_SELECT)}
            accounts = {
                row[0]: AccountRecord(row[0], row[1], row[2], row[3], row[4])
                for row in conn.execute("SELECT name, channel, channel_id, spec_hash, commit_sha FROM accounts")
            }
        return ActualState(flows=flows, accounts=accounts)

    def actual_around(self, flows: Collection[str], accounts: Collection[str] = ()) -> ActualState:
        names, bound = json.dumps(sorted(flows)), json.dumps(sorted(accounts))
        with self._read() as conn:
            rows = conn.execute(
                _FLOW_SELECT + " WHERE f.name IN (SELECT value FROM json_each(?1)) OR f.account IN "
                "(SELECT value FROM json_each(?2) UNION SELECT account FROM flows "
                "WHERE name IN (SELECT value FROM json_each(?1)) AND account IS NOT NULL)",
                (names, bound),
            ).fetchall()
        return ActualState(flows={row[0]: _flow_record(row) for row in rows}, accounts={})

    def flow(self, name: str) -> FlowRecord | None:
        with self._lock:
            row = self._conn.execute(_FLOW_SELECT + " WHERE f.name = ?", (name,)).fetchone()
        return _flow_record(row) if row else None

    def revisions(self, flow: str) -> list[RevisionRecord]:
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions WHERE flow = ? ORDER BY number", (flow,)
            ).fetchall()
        return [RevisionRecord(*row) for row in rows]

    def revision(self, flow: str, hash: str) -> RevisionRecord | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_REVISION_COLUMNS} FROM revisions WHERE flow = ? AND hash = ?", (flow, hash)
            ).fetchone()
        return RevisionRecord(*row) if row else None

    def history(self, name: str | None = None) -> list[Transition]:
        with self._lock:
            if name is None:
                rows = self._conn.execute(f"SELECT {_TRANSITION_COLUMNS} FROM transitions ORDER BY seq").fetchall()
            else:
                rows = self._conn.execute(
                    f"SELECT {_TRANSITION_COLUMNS} FROM transitions WHERE name = ? ORDER BY seq", (name,)
                ).fetchall()
        return [Transition(*row) for row in rows]

    # -- applying -----------------------------------------------------------------------------
    def apply(self, subject_actions: Sequence[Action], commit: str | None, now: str) -> None:
        actions = list(subject_actions)
        if not actions:
            return
        kind, name = _subject(actions)
        with self._write() as conn:
            if kind == "Flow":
                transitions = _FlowApply(conn, name, commit, now).run(actions)
            else:
                transitions = _AccountApply(conn, name, commit, now).run(actions)
            conn.executemany(_TRANSITION_INSERT, transitions)

    # -- status -------------------------------------------------------------------------------
    def conditions(self, kind: str, name: str) -> list[Condition]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT type, status, reason, message, last_transition_time FROM conditions "
                "WHERE kind = ? AND name = ? ORDER BY position",
                (kind, name),
            ).fetchall()
        return [Condition(*row) for row in rows]

    def set_conditions(self, kind: str, name: str, conditions: Sequence[Condition]) -> None:
        _check_conditions(kind, name, conditions)
        with self._write() as conn:
            _replace_conditions(conn, kind, name, conditions)

    def set_conditions_many(self, items: Mapping[tuple[str, str], Sequence[Condition]]) -> None:
        for (kind, name), conditions in items.items():
            _check_conditions(kind, name, conditions)
        with self._write() as conn:
            for (kind, name), conditions in items.items():
                _replace_conditions(conn, kind, name, conditions)

    def all_conditions(self) -> dict[tuple[str, str], list[Condition]]:
        out: dict[tuple[str, str], list[Condition]] = {}
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, name, type, status, reason, message, last_transition_time FROM conditions "
                "ORDER BY kind, name, position"
            ).fetchall()
        for kind, name, *fields in rows:
            out.setdefault((kind, name), []).append(Condition(*fields))
        return out

    def conditions_of(self, subjects: Collection[tuple[str, str]]) -> dict[tuple[str, str], list[Condition]]:
        out: dict[tuple[str, str], list[Condition]] = {}
        wanted = json.dumps([[kind, name] for kind, name in subjects])
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, name, type, status, reason, message, last_transition_time FROM conditions "
                "WHERE (kind, name) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)) "
                "ORDER BY kind, name, position",
                (wanted,),
            ).fetchall()
        for kind, name, *fields in rows:
            out.setdefault((kind, name), []).append(Condition(*fields))
        return out

    def reconcile_record(self) -> ReconcileRecord:
        with self._lock:
            row = self._conn.execute("SELECT commit_sha, at, duration_ms, result FROM reconcile WHERE id = 1").fetchone()
        return ReconcileRecord(*row) if row else ReconcileRecord(None, None, None, None)

    def set_reconcile_record(self, record: ReconcileRecord) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO reconcile (id, commit_sha, at, duration_ms, result) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET commit_sha = excluded.commit_sha, at = excluded.at, "
                "duration_ms = excluded.duration_ms, result = excluded.result",
                (record.commit, record.at, record.duration_ms, record.result),
            )

    # -- parse cache --------------------------------------------------------------------------
    def cached_parse(self, blob_ids: Sequence[str]) -> dict[str, bytes]:
        ids = list(dict.fromkeys(blob_ids))
        out: dict[str, bytes] = {}
        with self._read() as conn:
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for blob_id, payload in conn.execute(
                    f"SELECT blob_id, payload FROM parse_cache WHERE blob_id IN ({marks})", chunk
                ):
                    out[blob_id] = bytes(payload)
        return out

    def put_parse(self, entries: dict[str, bytes]) -> None:
        if not entries:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO parse_cache (blob_id, payload) VALUES (?, ?) "
                "ON CONFLICT (blob_id) DO UPDATE SET payload = excluded.payload",
                ((blob_id, bytes(payload)) for blob_id, payload in entries.items()),
            )

    # -- tree index -----------------------------------------------------------------------------
    def tree_head(self) -> TreeHead | None:
        with self._lock:
            row = self._conn.execute("SELECT commit_sha, clean FROM tree_head WHERE id = 1").fetchone()
        return TreeHead(row[0], bool(row[1])) if row else None

    def tree_docs(self, *, paths: Collection[str] = (), names: Collection[str] = (),
                  accounts: Collection[str] = (), referencing: Collection[str] = ()) -> list[TreeDoc]:
        clauses = []
        params: list[str] = []
        if paths:
            clauses.append("path IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(paths)))
        if names:
            clauses.append("name IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(names)))
        if accounts:
            clauses.append("(kind = 'Flow' AND account IN (SELECT value FROM json_each(?)))")
            params.append(json.dumps(sorted(accounts)))
        if referencing:
            clauses.append("(refs IS NOT NULL AND EXISTS (SELECT 1 FROM json_each(refs) AS r "
                           "WHERE r.value IN (SELECT value FROM json_each(?))))")
            params.append(json.dumps(sorted(referencing)))
        if not clauses:
            return []
        with self._lock:
            rows = self._conn.execute(
                "SELECT path, idx, blob, kind, name, account, refs, record FROM tree_docs WHERE "
                + " OR ".join(clauses) + " ORDER BY path, idx", params,
            ).fetchall()
        return [TreeDoc(path, idx, blob, kind, name, account, tuple(json.loads(refs)) if refs else (), record)
                for path, idx, blob, kind, name, account, refs, record in rows]

    def tree_identities(self) -> set[tuple[str, str]]:
        with self._lock:
            return set(self._conn.execute("SELECT kind, name FROM tree_docs").fetchall())

    def put_tree(self, head: TreeHead, docs: Sequence[TreeDoc], replacing: Collection[str] | None = None) -> None:
        with self._write() as conn:
            if replacing is None:
                conn.execute("DELETE FROM tree_docs")
            else:
                conn.execute("DELETE FROM tree_docs WHERE path IN (SELECT value FROM json_each(?))",
                             (json.dumps(sorted(replacing)),))
            conn.executemany(
                "INSERT INTO tree_docs (path, idx, blob, kind, name, account, refs, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ((d.path, d.index, d.blob, d.kind, d.name, d.account, json.dumps(list(d.refs)) if d.refs else None, d.record)
                 for d in docs),
            )
            conn.execute(
                "INSERT INTO tree_head (id, commit_sha, clean) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET commit_sha = excluded.commit_sha, clean = excluded.clean",
                (head.commit, int(head.clean)),
            )

    def account_specs(self) -> dict[str, str]:
        with self._lock:
            return dict(self._conn.execute("SELECT name, spec_json FROM accounts").fetchall())

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            try:
                self._conn.execute("PRAGMA optimize")
            except sqlite3.ProgrammingError:  # already closed
                return
            except sqlite3.OperationalError:  # another process is writing: the statistics wait for another close
                pass
            self._conn.close()


# ---- applying one subject ------------------------------------------------------------------


def _subject(actions: list[Action]) -> tuple[str, str]:
    """The one (kind, name) that every action is about; a malformed call is a caller's bug."""
    kind, name = actions[0].kind, actions[0].name
    for a in actions:
        if (a.kind, a.name) != (kind, name):
            raise ValueError(
                f"apply takes the actions of one flow or one account; got {kind} `{name}` and {a.kind} `{a.name}`"
            )
        allowed = FLOW_ACTIONS if kind == "Flow" else ACCOUNT_ACTIONS if kind == "Account" else ()
        if a.action not in allowed:
            raise ValueError(f"`{a.action}` is not an action on a {kind}; expected one of {', '.join(allowed)}")
    return kind, name


def _require(action: Action, *fields: str) -> None:
    missing = [f for f in fields if getattr(action, f) is None]
    if missing:
        raise ValueError(f"{action.kind} `{action.name}`: `{action.action}` needs {', '.join(missing)}")


class _FlowApply:
    """The actions of one flow inside one transaction: checked against the rules, then written."""

    def __init__(self, conn: sqlite3.Connection, name: str, commit: str | None, now: str) -> None:
        self.conn, self.name, self.commit, self.now = conn, name, commit, now

    def run(self, actions: list[Action]) -> list[tuple]:
        before = self._load()
        flow = before
        transitions: list[tuple] = []
        for a in actions:
            previous = flow
            flow = self._step(flow, a)
            shown = flow or previous
            revision = a.revision or (shown.live_revision or shown.revision if shown else None)
            transitions.append(
                ("Flow", self.name, a.action, previous.state if previous else None, flow.state if flow else None,
                 revision, self.commit, self.now, a.detail or _flow_detail(a))
            )
        self._save(before, flow)
        return transitions

    def _step(self, flow: _Flow | None, a: Action) -> _Flow | None:
        if a.action == "create":
            if flow is not None:
                raise IllegalTransition("Exists", f"flow `{self.name}` already exists")
            _require(a, "trigger", "revision", "spec_json")
            assert a.trigger is not None and a.revision is not None
            keywords = self._store_revision(a)
            created = _Flow(
                trigger=a.trigger, state="unpublished", account=None, display_name=a.display_name,
                remark=a.remark, logging=bool(a.logging), keywords=keywords, revision=a.revision,
                live_revision=None, commit=self.commit,
            )
            return self._bind(created, a.account) if a.account is not None else created
        if flow is None:
            raise IllegalTransition("NotFound", f"flow `{self.name}` does not exist: create it first")
        if a.trigger is not None and a.trigger != flow.trigger:
            raise IllegalTransition(
                "TriggerChange",
                f"flow `{self.name}` has a {flow.trigger} trigger, which cannot change to {a.trigger}: "
                "keep the trigger type, or create a new flow under another name",
            )
        if a.action == "update-info":
            return replace(flow, display_name=a.display_name, remark=a.remark)
        if a.action == "set-logging":
            _require(a, "logging")
            return replace(flow, logging=bool(a.logging))
        if a.action == "bind":
            return self._bind(flow, a.account)
        if a.action == "revise":
            _require(a, "revision")
            keywords = self._store_revision(a)
            if flow.state == "published":  # routing keeps the live revision's keywords
                return replace(flow, revision=a.revision, commit=self.commit)
            return replace(flow, revision=a.revision, keywords=keywords, commit=self.commit)
        if a.action == "publish":
            return self._publish(flow, a)
        if a.action == "unpublish":
            return replace(flow, state="unpublished", live_revision=None, keywords=self._keywords(flow.revision))
        if a.action == "delete":
            if flow.state == "published":
                raise IllegalTransition(
                    "PublishedDelete",
                    f"flow `{self.name}` is published and cannot be deleted: set spec.state: unpublished, "
                    "merge, then remove the file",
                )
            return None
        raise AssertionError(a.action)  # _subject admits only FLOW_ACTIONS

    def _bind(self, flow: _Flow, account: str | None) -> _Flow:
        if flow.state == "published" and account != flow.account:
            target = f"`{account}`" if account else "no account"
            raise IllegalTransition(
                "PublishedRebind",
                f"flow `{self.name}` is published on account `{flow.account}` and cannot be bound to {target}: "
                "set spec.state: unpublished with the new account, merge, then publish again",
            )
        if account is not None:
            self._check_account(flow, account)
        return replace(flow, account=account)

    def _publish(self, flow: _Flow, a: Action) -> _Flow:
        revision = a.revision or flow.revision
        keywords = self._store_revision(replace(a, revision=revision))
        if flow.trigger != "manual":
            if flow.account is None:
                raise IllegalTransition(
                    "Unbound",
                    f"flow `{self.name}` has a {flow.trigger} trigger and no account, so it cannot be published: "
                    "set spec.trigger.account to an Account of that channel",
                )
            self._check_account(flow, flow.account)
        return replace(flow, state="published", revision=revision, live_revision=revision, keywords=keywords,
                       commit=self.commit)

    def _check_account(self, flow: _Flow, account: str) -> None:
        row = self.conn.execute("SELECT channel FROM accounts WHERE name = ?", (account,)).fetchone()
        if row is None:
            raise IllegalTransition(
                "NotFound", f"flow `{self.name}` names account `{account}`, which does not exist: create the Account first"
            )
        if row[0] != flow.trigger:
            what = "a manual trigger takes no account" if flow.trigger == "manual" else f"its trigger is {flow.trigger}"
            raise IllegalTransition(
                "ChannelMismatch",
                f"flow `{self.name}` cannot be bound to `{account}`, a {row[0]} account: {what}",
            )

    def _store_revision(self, a: Action) -> tuple[str, ...]:
        """Store the action's revision unless this flow already has it; return its keywords."""
        row = self.conn.execute(
            "SELECT keywords FROM revisions WHERE flow = ? AND hash = ?", (self.name, a.revision)
        ).fetchone()
        if row is not None:
            return tuple(a.keywords) if a.keywords is not None else tuple(json.loads(row[0]))
        _require(a, "spec_json")
        keywords = tuple(a.keywords or ())
        (number,) = self.conn.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM revisions WHERE flow = ?", (self.name,)
        ).fetchone()
        self.conn.execute(
            "INSERT INTO revisions (flow, hash, number, commit_sha, spec_json, keywords, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.name, a.revision, number, self.commit, a.spec_json, json.dumps(keywords), self.now),
        )
        return keywords

    def _keywords(self, revision: str) -> tuple[str, ...]:
        row = self.conn.execute(
            "SELECT keywords FROM revisions WHERE flow = ? AND hash = ?", (self.name, revision)
        ).fetchone()
        return tuple(json.loads(row[0]))

    def _load(self) -> _Flow | None:
        row = self.conn.execute(
            "SELECT trigger, state, account, display_name, remark, logging, keywords, revision, live_revision, "
            "commit_sha FROM flows WHERE name = ?",
            (self.name,),
        ).fetchone()
        if row is None:
            return None
        t, state, account, display, remark, logging, keywords, revision, live, commit = row
        return _Flow(t, state, account, display, remark, bool(logging), tuple(json.loads(keywords)), revision, live, commit)

    def _save(self, before: _Flow | None, after: _Flow | None) -> None:
        if after is not None:
            self.conn.execute(
                _FLOW_UPSERT,
                (self.name, after.trigger, after.state, after.account, after.display_name, after.remark,
                 int(after.logging), json.dumps(after.keywords), after.revision, after.live_revision, after.commit),
            )
        elif before is not None:
            self.conn.execute("DELETE FROM flows WHERE name = ?", (self.name,))
        if after is None:
            self.conn.execute("DELETE FROM conditions WHERE kind = 'Flow' AND name = ?", (self.name,))


def _flow_detail(a: Action) -> str:
    if a.action == "bind":
        return f"account {a.account}" if a.account else "no account"
    if a.action == "set-logging":
        return "logging on" if a.logging else "logging off"
    if a.action == "create":
        return f"{a.trigger} trigger"
    return ""


def _account_detail(a: Action) -> str:
    if a.action in ("create-account", "update-account") and a.channel:
        return f"{a.channel} {a.channel_id}" if a.channel_id else a.channel
    return ""


class _AccountApply:
    """The actions of one account inside one transaction."""

    def __init__(self, conn: sqlite3.Connection, name: str, commit: str | None, now: str) -> None:
        self.conn, self.name, self.commit, self.now = conn, name, commit, now

    def run(self, actions: list[Action]) -> list[tuple]:
        before = self._load()
        account = before
        transitions: list[tuple] = []
        for a in actions:
            previous = account
            account = self._step(account, a)
            shown = account or previous
            transitions.append(
                ("Account", self.name, a.action, _PRESENT if previous else None, _PRESENT if account else None,
                 shown.spec_hash if shown else None, self.commit, self.now, a.detail or _account_detail(a))
            )
        self._save(before, account)
        return transitions

    def _step(self, account: _Account | None, a: Action) -> _Account | None:
        if a.action == "create-account":
            if account is not None:
                raise IllegalTransition("Exists", f"account `{self.name}` already exists")
            _require(a, "channel", "spec_hash", "spec_json")
            assert a.channel is not None and a.spec_hash is not None and a.spec_json is not None
            self._check_channel_id(a.channel, a.channel_id)
            return _Account(a.channel, a.channel_id, a.spec_hash, a.spec_json, self.commit)
        if account is None:
            raise IllegalTransition("NotFound", f"account `{self.name}` does not exist: create it first")
        if a.action == "update-account":
            _require(a, "channel", "spec_hash", "spec_json")
            assert a.channel is not None and a.spec_hash is not None and a.spec_json is not None
            if (a.channel, a.channel_id) != (account.channel, account.channel_id):
                users = self._published_users()
                if users:
                    raise IllegalTransition(
                        "AccountInUse",
                        f"account `{self.name}` is used by published flow {users}, so its channel id cannot change "
                        f"from {account.channel_id} to {a.channel_id}: unpublish those flows first",
                    )
                self._check_channel_id(a.channel, a.channel_id)
            return _Account(a.channel, a.channel_id, a.spec_hash, a.spec_json, self.commit)
        if a.action == "delete-account":
            users = self._published_users()
            if users:
                raise IllegalTransition(
                    "AccountInUse",
                    f"account `{self.name}` is used by published flow {users} and cannot be deleted: "
                    "unpublish those flows (or bind them to another account while unpublished) first",
                )
            return None
        raise AssertionError(a.action)  # _subject admits only ACCOUNT_ACTIONS

    def _published_users(self) -> str:
        """The published flows bound to this account, as a phrase ('' when none)."""
        rows = self.conn.execute(
            "SELECT name FROM flows WHERE account = ? AND state = 'published' ORDER BY name LIMIT 4", (self.name,)
        ).fetchall()
        names = [f"`{r[0]}`" for r in rows]
        if len(names) > 3:
            return ", ".join(names[:3]) + " and more"
        return ", ".join(names)

    def _check_channel_id(self, channel: str, channel_id: str | None) -> None:
        if channel_id is None:
            return
        row = self.conn.execute(
            "SELECT name FROM accounts WHERE channel = ? AND channel_id = ? AND name != ?",
            (channel, channel_id, self.name),
        ).fetchone()
        if row is not None:
            raise IllegalTransition(
                "DuplicateChannelId",
                f"account `{self.name}`: {channel} id {channel_id} already belongs to account `{row[0]}`; "
                "each channel account is declared once",
            )

    def _load(self) -> _Account | None:
        row = self.conn.execute(
            "SELECT channel, channel_id, spec_hash, spec_json, commit_sha FROM accounts WHERE name = ?", (self.name,)
        ).fetchone()
        return _Account(*row) if row else None

    def _save(self, before: _Account | None, after: _Account | None) -> None:
        if after is not None:
            self.conn.execute(
                _ACCOUNT_UPSERT,
                (self.name, after.channel, after.channel_id, after.spec_hash, after.spec_json, after.commit),
            )
        elif before is not None:
            self.conn.execute("DELETE FROM accounts WHERE name = ?", (self.name,))
        if after is None:
            self.conn.execute("DELETE FROM conditions WHERE kind = 'Account' AND name = ?", (self.name,))


# ---- rows ----------------------------------------------------------------------------------


def _flow_record(row: tuple) -> FlowRecord:
    name, trigger, state, account, display, remark, logging, keywords, rev, rev_no, live, live_no, commit = row
    return FlowRecord(
        name=name, trigger=trigger, state=state, account=account, display_name=display, remark=remark,
        logging=bool(logging), keywords=tuple(json.loads(keywords)), revision=rev, revision_number=rev_no,
        live_revision=live, live_revision_number=live_no, commit=commit,
    )


def _check_conditions(kind: str, name: str, conditions: Sequence[Condition]) -> None:
    types = [c.type for c in conditions]
    if len(set(types)) != len(types):
        raise ValueError(f"{kind} `{name}`: each condition type may appear once, got {', '.join(types)}")


def _replace_conditions(conn: sqlite3.Connection, kind: str, name: str, conditions: Sequence[Condition]) -> None:
    stored = {
        t: (status, since)
        for t, status, since in conn.execute(
            "SELECT type, status, last_transition_time FROM conditions WHERE kind = ? AND name = ?", (kind, name)
        )
    }
    conn.execute("DELETE FROM conditions WHERE kind = ? AND name = ?", (kind, name))
    rows = []
    for position, c in enumerate(conditions):
        old = stored.get(c.type)
        since = old[1] if old is not None and old[0] == c.status else c.last_transition_time
        rows.append((kind, name, c.type, position, c.status, c.reason, c.message, since))
    conn.executemany(
        "INSERT INTO conditions (kind, name, type, position, status, reason, message, last_transition_time) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
