"""A read-only transaction on SQLite takes no write lock, so it never queues behind a writer's commit."""
from __future__ import annotations

import threading
import time

from smartlib_server.adapters.sql import sqlite_database


def test_a_read_does_not_wait_for_a_writer_holding_the_lock(tmp_path):
    db = sqlite_database(tmp_path / "t.sqlite3")
    with db.tx() as cur:
        cur.execute("CREATE TABLE t (x INTEGER)")
        cur.execute("INSERT INTO t VALUES (1)")
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.tx() as cur:  # BEGIN IMMEDIATE: holds the write lock until release
            cur.execute("INSERT INTO t VALUES (2)")
            holding.set()
            release.wait(5)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        with db.tx(write=False) as cur:
            seen = cur.all("SELECT x FROM t")
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join(5)
    assert seen == [(1,)]  # the committed state, not the writer's pending row
    assert waited < 1.0  # a write transaction here would wait for the writer (up to its 30 s timeout)
