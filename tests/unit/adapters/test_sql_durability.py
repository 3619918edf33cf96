"""A transaction with durable=False commits without waiting for the disk, and only it: the
connection's next transaction is durable again (SQLite synchronous=FULL, PostgreSQL
synchronous_commit on)."""
from __future__ import annotations

import pytest


@pytest.fixture
def db(any_db):
    with any_db.tx() as cur:
        cur.execute("CREATE TABLE t (x INTEGER)")
    return any_db


def waits_for_disk(db, cur) -> bool:
    """What the commit of the transaction `cur` belongs to will do, as the database reports it."""
    if db.dialect.name == "sqlite":
        return cur.one("PRAGMA synchronous")[0] == 2  # FULL; NORMAL (1) skips the WAL fsync in WAL mode
    return cur.one("SHOW synchronous_commit")[0] == "on"


def test_only_the_relaxed_transaction_skips_the_disk_and_its_rows_commit(db):
    with db.tx() as cur:
        assert waits_for_disk(db, cur)
    with db.tx(durable=False) as cur:
        assert not waits_for_disk(db, cur)
        cur.execute("INSERT INTO t VALUES (1)")
    with db.tx() as cur:  # the same thread's connection: back to durable
        assert waits_for_disk(db, cur)
        cur.execute("INSERT INTO t VALUES (2)")
    with db.tx(write=False) as cur:
        assert cur.all("SELECT x FROM t ORDER BY x") == [(1,), (2,)]


def test_a_failed_relaxed_transaction_also_leaves_the_connection_durable(db):
    with pytest.raises(RuntimeError), db.tx(durable=False) as cur:
        cur.execute("INSERT INTO t VALUES (3)")
        raise RuntimeError("the body failed")
    with db.tx() as cur:
        assert waits_for_disk(db, cur)
        assert cur.all("SELECT x FROM t") == []  # rolled back


def test_a_read_ignores_durable(db):
    with db.tx(write=False, durable=False) as cur:
        assert waits_for_disk(db, cur)  # nothing to commit; the setting is left alone
