"""SQLiteStore: the contract, plus what only a SQLite file has (pragmas, migrations, locking)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from controller.lifecycle.state import IllegalTransition
from controller.store.base import StoreError, WriterBusy
from controller.store.records import Dedupe, Work
from controller.store.schema import APPLICATION_ID, MIGRATIONS, VERSION, Migration, migrate
from controller.store.sqlite import SQLiteStore

from . import runtime_contract as rc
from .runtime_contract import RuntimeContract
from .contract import (
    PROJECT,
    REV1,
    T0,
    T1,
    StoreContract,
    StoreFactory,
    bind,
    cond,
    create,
    delete,
    publish,
    published_flow,
    spec,
)


class SQLiteFactory(StoreFactory):
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        return self.directory / f"{name}.db"

    def open(self, name: str = "state") -> SQLiteStore:
        return SQLiteStore(self.path(name))

    def child_source(self, name: str = "state") -> str:
        return f"from controller.store.sqlite import SQLiteStore\nstore = SQLiteStore({str(self.path(name))!r})"

    def crash_before_commit_source(self) -> str:
        # The trace callback runs as each statement starts: at COMMIT, every write is done.
        return "store._conn.set_trace_callback(lambda sql: os._exit(137) if sql == 'COMMIT' else None)"


@pytest.fixture
def store_factory(tmp_path: Path) -> SQLiteFactory:
    return SQLiteFactory(tmp_path / "nested" / ".chatflow")


class TestSQLiteStoreContract(StoreContract):
    pass


class TestSQLiteRuntimeContract(RuntimeContract):
    pass


# ---- the file ------------------------------------------------------------------------------


def test_opening_creates_the_parent_directories_and_a_wal_database(tmp_path: Path):
    path = tmp_path / "a" / "b" / "state.db"
    store = SQLiteStore(path)
    try:
        store.apply([create("faq")], "c1", T0)
        assert path.exists()
        with sqlite3.connect(path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert raw.execute("PRAGMA user_version").fetchone()[0] == VERSION
            assert raw.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        conn = store._conn
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    finally:
        store.close()


def test_the_default_state_directory_is_ignored_by_git_in_the_repository(tmp_path: Path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "flows.d").mkdir()
    (repo / "flows.d" / "a.yaml").write_text("kind: Flow\n", encoding="utf-8")
    store = SQLiteStore(repo / ".chatflow" / "state.db")
    store.apply([create("faq")], "c1", T0)
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo,
                                capture_output=True, text=True, check=True).stdout
        assert status.splitlines() == ["?? flows.d/a.yaml"]  # `git add -A` stages the manifest alone
    finally:
        store.close()
    elsewhere = tmp_path / "var" / "state.db"  # a directory of the operator's choosing is left as it is
    SQLiteStore(elsewhere).close()
    assert not (elsewhere.parent / ".gitignore").exists()


def test_an_in_memory_store_works_for_a_plan_that_writes_no_file(tmp_path: Path):
    store = SQLiteStore(":memory:")
    store.apply([create("faq")], "c1", T0)
    assert store.flow("faq").revision == REV1
    store.close()


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path: Path):
    path = tmp_path / "state.db"
    path.write_bytes(b"these are not the bytes of a database" * 100)
    with pytest.raises(StoreError, match="cannot open state database .*--state"):
        SQLiteStore(path)
    assert path.read_bytes() == b"these are not the bytes of a database" * 100


def test_another_applications_database_is_refused(tmp_path: Path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(StoreError, match="not a chatflow state database"):
        SQLiteStore(path)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 0


def test_a_database_from_a_newer_chatflow_is_refused(tmp_path: Path):
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {VERSION + 1}")
    with pytest.raises(StoreError, match=rf"schema version {VERSION + 1}, newer than .*\({VERSION}\): upgrade chatflow"):
        SQLiteStore(path)


def test_a_directory_that_cannot_be_created_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open state database"):
        SQLiteStore(blocker / "sub" / "state.db")


# ---- migrations ----------------------------------------------------------------------------

# Schema version 1 exactly as it was written: a frozen copy, not the migration code.
V1_DDL = [
    """CREATE TABLE revisions (flow TEXT NOT NULL, hash TEXT NOT NULL, number INTEGER NOT NULL, commit_sha TEXT,
       spec_json TEXT NOT NULL, keywords TEXT NOT NULL, created_at TEXT NOT NULL,
       PRIMARY KEY (flow, hash), UNIQUE (flow, number))""",
    """CREATE TABLE flows (name TEXT PRIMARY KEY, trigger TEXT NOT NULL,
       state TEXT NOT NULL CHECK (state IN ('published', 'unpublished')), account TEXT, display_name TEXT,
       remark TEXT, logging INTEGER NOT NULL CHECK (logging IN (0, 1)), keywords TEXT NOT NULL,
       revision TEXT NOT NULL, live_revision TEXT, commit_sha TEXT,
       FOREIGN KEY (name, revision) REFERENCES revisions (flow, hash),
       FOREIGN KEY (name, live_revision) REFERENCES revisions (flow, hash),
       CHECK ((state = 'published') = (live_revision IS NOT NULL)))""",
    "CREATE INDEX flows_account ON flows (account) WHERE account IS NOT NULL",
    """CREATE TABLE accounts (name TEXT PRIMARY KEY, channel TEXT NOT NULL, channel_id TEXT,
       spec_hash TEXT NOT NULL, spec_json TEXT NOT NULL, commit_sha TEXT)""",
    "CREATE UNIQUE INDEX accounts_channel_id ON accounts (channel, channel_id) WHERE channel_id IS NOT NULL",
    """CREATE TABLE transitions (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, name TEXT NOT NULL,
       action TEXT NOT NULL, from_state TEXT, to_state TEXT, revision TEXT, commit_sha TEXT, at TEXT NOT NULL,
       detail TEXT NOT NULL)""",
    "CREATE INDEX transitions_name ON transitions (name, seq)",
]


def _write_v1_database(path: Path) -> None:
    with sqlite3.connect(path) as raw:
        for statement in V1_DDL:
            raw.execute(statement)
        raw.execute("INSERT INTO revisions VALUES ('faq', ?, 1, 'c1', ?, '[\"help\"]', ?)", (REV1, spec(REV1), T0))
        raw.execute("INSERT INTO accounts VALUES ('acme-wa', 'whatsapp', '1001', 'e1e1e1e1e1e1', '{}', 'c1')")
        raw.execute(
            "INSERT INTO flows VALUES ('faq', 'whatsapp', 'published', 'acme-wa', 'FAQ', NULL, 1, '[\"help\"]', ?, ?, 'c1')",
            (REV1, REV1),
        )
        raw.execute("INSERT INTO transitions (kind, name, action, from_state, to_state, revision, commit_sha, at, detail) "
                    "VALUES ('Flow', 'faq', 'publish', 'unpublished', 'published', ?, 'c1', ?, '')", (REV1, T0))
        raw.execute("PRAGMA user_version = 1")
        raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def test_a_version_1_database_is_migrated_at_open_and_keeps_its_data(tmp_path: Path):
    path = tmp_path / "state.db"
    _write_v1_database(path)

    store = SQLiteStore(path)
    try:
        faq = store.flow("faq")
        assert (faq.state, faq.account, faq.keywords, faq.live_revision_number) == ("published", "acme-wa", ("help",), 1)
        assert [t.action for t in store.history("faq")] == ["publish"]
        store.set_conditions("Flow", "faq", [cond("Ready", "True", T1)])  # added by version 2
        store.put_parse({"blob": b"x"})  # added by version 3
        assert store.cached_parse(["blob"]) == {"blob": b"x"}
        assert store.tree_head() is None  # added by version 5: the first reconcile reads the whole tree
        with pytest.raises(IllegalTransition):
            store.apply([delete("faq")], "c2", T1)
    finally:
        store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == VERSION


def test_migrations_are_numbered_in_order():
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))


def test_a_failing_migration_leaves_the_database_at_the_last_good_version(tmp_path: Path):
    path = tmp_path / "state.db"
    broken = MIGRATIONS[:1] + (
        Migration(2, "half of it works", ("CREATE TABLE half (x)", "CREATE TABLE oops (")),
    )
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            migrate(conn, "test db", broken)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "flows" in tables and "half" not in tables
    finally:
        conn.close()


def test_a_migration_already_done_by_another_process_is_skipped(tmp_path: Path):
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, "test db") == VERSION
        assert conn.execute("PRAGMA user_version").fetchone()[0] == VERSION
    finally:
        conn.close()


# ---- the rules hold below the API too ------------------------------------------------------


def test_revisions_and_history_cannot_be_rewritten_even_with_sql(tmp_path: Path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    store.apply([create("faq")], "c1", T0)
    store.close()
    with sqlite3.connect(path) as raw:
        for statement in ("UPDATE revisions SET spec_json = '{}'", "DELETE FROM revisions",
                          "UPDATE transitions SET commit_sha = 'x'", "DELETE FROM transitions"):
            with pytest.raises(sqlite3.IntegrityError, match="immutable|append-only"):
                raw.execute(statement)


# ---- concurrency ---------------------------------------------------------------------------


def test_one_store_shared_by_threads_serves_their_calls_one_at_a_time(tmp_path: Path):
    store = SQLiteStore(tmp_path / "state.db")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                store.apply([create(f"t{n}-{i}")], "c1", T0)
                store.actual()
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        assert len(store.actual().flows) == 100
        assert len(store.history()) == 100
    finally:
        store.close()


def test_two_processes_writing_one_file_take_turns(tmp_path: Path):
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    script = (
        "import sys\n"
        "from controller.store.sqlite import SQLiteStore\n"
        "from tests.store.contract import create\n"
        "store = SQLiteStore(sys.argv[1])\n"
        "for i in range(100):\n"
        "    store.apply([create(f'{sys.argv[2]}-{i}')], 'c1', '2026-01-01T00:00:00Z')\n"
        "store.close()\n"
    )
    children = [
        subprocess.Popen([sys.executable, "-c", script, str(path), who], cwd=PROJECT, stderr=subprocess.PIPE, text=True)
        for who in ("left", "right")
    ]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    store = SQLiteStore(path)
    try:
        assert len(store.actual().flows) == 200
        assert len(store.history()) == 200
    finally:
        store.close()


def test_a_group_commit_told_not_to_wait_says_busy_at_once_and_writes_nothing(tmp_path: Path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path)  # waits up to 10 s for a lock by default
    other = sqlite3.connect(path, isolation_level=None)  # another process's writer
    work = [Work(rc.T0, Dedupe("whatsapp", "a"), (rc.new(rc.session()),), (rc.message(),))]
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(WriterBusy):
            store.commit_many(work, wait=False)  # waiting would raise OperationalError after 10 s instead
        assert store._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000  # back for everyone else
        assert not store._conn.in_transaction
        other.execute("COMMIT")
        assert store.seen("whatsapp", "a") is None and store.messages() == []
        (result,) = store.commit_many(work, wait=False)
        assert result.outcome == "applied" and len(store.messages()) == 1
    finally:
        other.close()
        store.close()


def test_a_reader_sees_a_whole_call_or_none_of_it(tmp_path: Path):
    path = tmp_path / "state.db"
    writer = SQLiteStore(path)
    reader = SQLiteStore(path)
    try:
        published_flow(writer)
        writer._conn.execute("BEGIN IMMEDIATE")
        writer._conn.execute("UPDATE flows SET logging = 1")
        assert reader.flow("order-status").logging is False  # not committed: not seen
        writer._conn.execute("ROLLBACK")
        writer.apply([bind("order-status", "acme-wa"), publish("order-status")], "c2", T1)
        assert [t.action for t in reader.history("order-status")][-2:] == ["bind", "publish"]
        assert reader.actual() == writer.actual()
    finally:
        writer.close()
        reader.close()


def test_live_keys_are_read_in_pages_and_each_key_comes_once(tmp_path: Path, monkeypatch):
    import controller.store.sqlite_runtime as runtime_tables
    from controller.engine.session import ConversationKey

    monkeypatch.setattr(runtime_tables, "LIVE_KEYS_PAGE", 3)
    keys = [ConversationKey(channel, "acme", f"1555{n:04d}") for channel in ("viber", "whatsapp") for n in range(4)]
    store = SQLiteStore(tmp_path / "state.db")
    try:
        store.commit(Work(rc.T0, None, tuple(rc.new(rc.session(f"s{n}", key=k)) for n, k in enumerate(keys))))
        assert list(store.live_keys()) == sorted(keys, key=lambda k: (k.channel, k.account, k.address))
    finally:
        store.close()


def test_closing_while_another_process_writes_still_closes(tmp_path: Path):
    from controller.store.records import EventQuery

    store = SQLiteStore(tmp_path / "state.db")
    for _ in range(20):  # queries that leave PRAGMA optimize something to analyse at close
        store.events(EventQuery(flow="shop"))
        store.sessions(flow="shop")
        store.messages(conversation="whatsapp:wa:1")
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # `chatflow serve` in the middle of a commit
        store.close()  # `chatflow logs` interrupted at that moment: no "database is locked"
        with pytest.raises(sqlite3.ProgrammingError):
            store._conn.execute("SELECT 1")  # and the connection is closed, not left open
    finally:
        other.execute("ROLLBACK")
        other.close()
