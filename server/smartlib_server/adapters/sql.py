"""SQL plumbing shared by the stores: one dialect-neutral SQL text runs on SQLite or PostgreSQL."""
from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from smartlib_core.errors import Unavailable
from smartlib_core.tracing import traced

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Dialect:
    name: str
    placeholder: str
    blob: str
    serial: str
    connect: Callable[[], Any]
    errors: tuple[type[BaseException], ...]  # connection-level errors worth one reconnect


SCHEMA_LOCK_KEY = 0x534C5343  # any constant shared by every replica: serialises schema creation
CHANNEL = "smartlib_changes"  # PostgreSQL NOTIFY channel: a wake-up only; the change log is the truth


class SqlDatabase:
    """Per-thread connections and transactions that survive one server restart."""

    def __init__(self, dialect: Dialect, read_only: bool = False):
        self.dialect = dialect
        self.read_only = read_only  # reads only: no schema, deferred transactions (tools, benches)
        self._local = threading.local()
        self._all_connections: list[Any] = []
        self._registry_lock = threading.Lock()
        self._listener: Any = None

    def notify(self, cur: "Cursor") -> None:
        """Wakes other replicas' followers when this transaction commits (PostgreSQL only)."""
        if self.dialect.name == "postgres":
            cur.execute(f"NOTIFY {CHANNEL}")

    def wait_for_notify(self, timeout: float) -> None:
        """Returns on a NOTIFY or after `timeout`; a lost listener reconnects on the next call.

        Missing a notification costs at most one poll interval, because callers re-read the
        change log after every return.
        """
        if self.dialect.name != "postgres":
            time.sleep(timeout)
            return
        try:
            if self._listener is None:
                self._listener = self.dialect.connect()
                self._listener.autocommit = True
                self._listener.execute(f"LISTEN {CHANNEL}")
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
        except self.dialect.errors:
            self._listener = None
            time.sleep(timeout)

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self.dialect.connect()
            except self.dialect.errors as exc:
                raise Unavailable(f"catalog database unreachable: {exc.__class__.__name__}") from exc
            self._local.conn = conn
            with self._registry_lock:
                self._all_connections.append(conn)
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken; nothing to save
                pass

    @contextmanager
    def tx(self, write: bool = True, durable: bool = True) -> Iterator[Any]:
        """A transaction on this thread's connection; `write=False` for one that only reads (on
        SQLite it then takes no write lock, so it never waits behind another's commit).

        `durable=False` commits without waiting for the disk: the rows are in the log (SQLite's
        WAL file, PostgreSQL's WAL) when this returns, so a crash of this process loses nothing,
        but a power loss or OS crash may lose them until the log is next flushed. The log is
        flushed in order, so the next durable commit on the same database (any acknowledged
        interaction, say) makes every earlier commit durable too. SQLite: synchronous=NORMAL for
        this transaction; PostgreSQL: synchronous_commit off (flushed within 3 x wal_writer_delay).

        A dropped PostgreSQL connection (server restart, killed backend) is found by a ping
        before the body runs and replaced. A failure inside the body becomes Unavailable and
        drops the connection, since a context manager cannot run its body twice.
        """
        conn = self._connection()
        if self.dialect.name != "sqlite" and not self._alive(conn):
            log.warning("catalog database connection lost; reconnecting")
            self._drop_connection()
            conn = self._connection()
        relaxed = not durable and write and not self.read_only
        try:
            cur = conn.cursor()
            if self.dialect.name == "sqlite":
                if relaxed:
                    cur.execute("PRAGMA synchronous=NORMAL")  # outside the transaction: SQLite reads it at commit
                # IMMEDIATE takes the write lock up front, which a read-only file refuses
                cur.execute("BEGIN" if self.read_only or not write else "BEGIN IMMEDIATE")
            elif relaxed:
                cur.execute("SET LOCAL synchronous_commit TO OFF")  # this transaction only
            yield Cursor(cur, self.dialect.placeholder)
            conn.commit()
        except self.dialect.errors as exc:
            self._drop_connection()
            log.warning("catalog database error: %s", exc)
            raise Unavailable(f"catalog database error ({exc.__class__.__name__}); retry shortly") from exc
        except BaseException:
            try:
                conn.rollback()
            except Exception:
                self._drop_connection()
            raise
        finally:
            if relaxed and self.dialect.name == "sqlite" and getattr(self._local, "conn", None) is conn:
                conn.execute("PRAGMA synchronous=FULL")  # the connection's default again

    @contextmanager
    def schema_tx(self) -> Iterator["Cursor"]:
        """A transaction for CREATE ... IF NOT EXISTS statements.

        PostgreSQL's IF NOT EXISTS is not safe when two replicas start at once (both pass the
        check, one fails on a catalog unique index), so schema changes take a transaction-level
        advisory lock first and run one replica at a time.
        """
        with self.tx() as cur:
            if self.dialect.name == "postgres":
                cur.execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK_KEY,))
            yield cur

    def _alive(self, conn: Any) -> bool:
        """One round trip; it also opens the transaction the body then runs in."""
        try:
            conn.execute("SELECT 1")
            return True
        except self.dialect.errors:
            return False

    def close(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:
                pass
            self._listener = None
        with self._registry_lock:
            for conn in self._all_connections:
                try:
                    conn.close()
                except Exception:
                    pass
            self._all_connections.clear()
        self._local = threading.local()

class Cursor:
    """Lets one SQL text (with ? placeholders) run on either driver."""

    def __init__(self, cur: Any, placeholder: str):
        self._cur = cur
        self._ph = placeholder

    @traced("sql")
    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._cur.execute(sql if self._ph == "?" else sql.replace("?", self._ph), tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self.execute(sql, params)
        return self._cur.fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        self.execute(sql, params)
        return self._cur.fetchall()

    @property
    def rowcount(self) -> int:
        """Rows the last INSERT, UPDATE or DELETE touched."""
        return int(self._cur.rowcount)


def sqlite_database(path: Path, read_only: bool = False) -> SqlDatabase:
    """The embedded default: one SQLite file in WAL mode with full fsync on commit.

    `read_only` opens an existing file that this process must not change (a benchmark reading a
    trained home): SQLite itself then refuses every write, and nothing is created."""
    if read_only:
        def connect_read_only() -> sqlite3.Connection:
            if not Path(path).is_file():
                raise FileNotFoundError(f"no catalog database at {path}")
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None,
                                   check_same_thread=False)

        return SqlDatabase(Dialect("sqlite", "?", "BLOB", "INTEGER", connect_read_only, (sqlite3.OperationalError,)),
                           read_only=True)
    path.parent.mkdir(parents=True, exist_ok=True)

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives power loss
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    return SqlDatabase(Dialect("sqlite", "?", "BLOB", "INTEGER", connect, (sqlite3.OperationalError,)))


def postgres_database(url: str) -> SqlDatabase:
    """PostgreSQL, the production source of truth shared by replicas."""
    import psycopg

    def connect() -> Any:
        return psycopg.connect(url, connect_timeout=5)

    return SqlDatabase(Dialect("postgres", "%s", "BYTEA", "BIGSERIAL", connect, (psycopg.OperationalError,)))


def open_database(database_url: str, sqlite_path: Path) -> SqlDatabase:
    return postgres_database(database_url) if database_url else sqlite_database(sqlite_path)
