"""The kept histories (adapters/history_cache.py) against the log they mirror, on SQLite and the
real PostgreSQL: this process's writes are read back at once, another process's within one
follower round (or `max_age_s`), and at every point the kept history is what the store returns."""
from __future__ import annotations

import random
import subprocess
import sys
import threading

import pytest

from smartlib_server.adapters.history_cache import HistoryCache
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import postgres_database, sqlite_database
from smartlib_server.domain.personalization import Interaction, InteractionKind as K
from tests.unit.backends import BACKENDS

T = 1_780_000_000_000

WRITER = """
import sys
from pathlib import Path
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import open_database
from smartlib_server.domain.personalization import Interaction, InteractionKind
db = open_database(sys.argv[1], Path(sys.argv[2]))
InteractionStore(db).add([Interaction(sys.argv[3], sys.argv[4], InteractionKind.LIKE, 0, int(sys.argv[5]))])
db.close()
"""


class Backend:
    """Opens more connections to one database, as another replica or process would."""

    def __init__(self, request, tmp_path):
        self.url = request.getfixturevalue("postgres_url") if request.param == "postgres" else ""
        self.path = tmp_path / "catalog.sqlite3"
        self.opened = []

    def store(self) -> InteractionStore:
        db = postgres_database(self.url) if self.url else sqlite_database(self.path)
        self.opened.append(db)
        return InteractionStore(db)

    def write_from_another_process(self, user: str, book: str, ts: int) -> None:
        subprocess.run([sys.executable, "-c", WRITER, self.url, str(self.path), user, book, str(ts)], check=True,
                       timeout=120)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    b = Backend(request, tmp_path)
    yield b
    for db in b.opened:
        db.close()


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def like(user: str, book: str, ts: int, kind: K = K.LIKE) -> Interaction:
    return Interaction(user, book, kind, 0, ts)


def books(events) -> list[str]:
    return [e.book_id for e in events]


def test_own_write_is_read_back_at_once_without_sql(backend):
    cache = HistoryCache(backend.store())
    cache.add([like("ana", "a", T)])
    assert books(cache.user_history("ana")) == ["a"] and cache.loads == 1
    cache.add([like("ana", "b", T + 1), like("bob", "x", T + 1)])
    assert books(cache.cached("ana", 2000)) == ["a", "b"]  # no follow round, no read
    assert books(cache.user_history("ana")) == ["a", "b"] and cache.loads == 1


def test_another_process_write_is_seen_after_one_follower_round(backend):
    cache = HistoryCache(backend.store())
    cache.add([like("ana", "a", T)])
    cache.user_history("ana")
    backend.write_from_another_process("ana", "b", T + 1)
    assert books(cache.cached("ana", 2000)) == ["a"]  # stale until the follower's round: the documented bound
    assert cache.follow() == 1
    assert books(cache.cached("ana", 2000)) == ["a", "b"]
    assert cache.follow() == 0  # (a lookback re-read applies nothing twice)
    assert books(cache.user_history("ana")) == ["a", "b"] and cache.loads == 1


def test_a_history_older_than_max_age_is_read_again(backend):
    clock = Clock()
    cache = HistoryCache(backend.store(), max_age_s=60.0, clock=clock)
    cache.add([like("ana", "a", T)])
    cache.user_history("ana")
    backend.store().add([like("ana", "b", T + 1)])  # never followed
    clock.now += 59.0
    assert books(cache.cached("ana", 2000)) == ["a"]
    clock.now += 1.0
    assert cache.cached("ana", 2000) is None
    assert books(cache.user_history("ana")) == ["a", "b"] and cache.loads == 2


def test_kept_histories_equal_the_store_after_every_round(backend):
    """Own and others' writes, timestamps out of order, a short limit and a bound that evicts."""
    ours, theirs = backend.store(), backend.store()
    cache = HistoryCache(ours, limit=6, max_users=3)
    rng = random.Random(4)
    users = [f"u{i}" for i in range(5)]
    for step in range(120):
        user = rng.choice(users)
        event = like(user, f"b{rng.randrange(30)}", T + rng.randrange(100), rng.choice([K.LIKE, K.CLICK, K.DISLIKE]))
        (cache if rng.random() < 0.5 else theirs).add([event])
        if step % 3 == 0:
            cache.follow()
            for u in users:
                kept = cache.cached(u, 6)
                if kept is not None:
                    assert kept == ours.user_history(u, 6), (step, u)
        reader = rng.choice(users)
        cache.follow()
        assert cache.user_history(reader, 6) == ours.user_history(reader, 6)
        assert cache.user_history(reader, 4) == ours.user_history(reader, 4)
    assert len(cache) <= 3


def test_a_write_committed_during_a_load_is_not_lost(backend):
    store = backend.store()
    cache = HistoryCache(store)
    store.add([like("ana", "a", T)])
    read = store.user_history_seqs

    def slow_read(user_id, limit):
        rows = read(user_id, limit)  # the load's snapshot: without "b"
        cache.add([like("ana", "b", T + 1)])  # this process writes while the load runs
        return rows
    store.user_history_seqs = slow_read
    assert books(cache.user_history("ana")) == ["a", "b"]
    store.user_history_seqs = read
    assert books(cache.cached("ana", 2000)) == ["a", "b"]


def test_forget_drops_the_user_and_a_load_across_it_is_not_kept(backend):
    store = backend.store()
    cache = HistoryCache(store)
    cache.add([like("ana", "a", T), like("bob", "b", T)])
    cache.user_history("ana"), cache.user_history("bob")
    assert cache.drop_users(lambda user: user == "ana") == 1
    assert cache.cached("ana", 2000) is None and books(cache.cached("bob", 2000)) == ["b"]
    read = store.user_history_seqs

    def erased_meanwhile(user_id, limit):
        rows = read(user_id, limit)
        cache.drop_users(lambda user: user == "ana")
        return rows
    store.user_history_seqs = erased_meanwhile
    cache.user_history("ana")
    assert cache.cached("ana", 2000) is None


@pytest.mark.postgres
def test_postgres_row_that_commits_behind_a_later_seq_is_followed(request):
    """A sequence number is taken at insert: a slow transaction can appear after a later one
    that the follower has already passed. The lookback re-reads it."""
    url = request.getfixturevalue("postgres_url")
    dbs = [postgres_database(url) for _ in range(3)]
    try:
        stores = [InteractionStore(db) for db in dbs]
        cache = HistoryCache(stores[0])
        cache.add([like("ana", "a", T)])
        cache.user_history("ana")
        inserted, release = threading.Event(), threading.Event()

        def slow_writer():
            with dbs[1].tx() as cur:
                cur.execute("INSERT INTO interactions (user_id, book_id, kind, rating, ts_ms, recommendation_id) "
                            "VALUES (?, ?, ?, ?, ?, ?)", ("ana", "slow", "like", 0, T + 1, ""))
                inserted.set()
                release.wait(30)
        writer = threading.Thread(target=slow_writer)
        writer.start()
        assert inserted.wait(30)
        stores[2].add([like("ana", "fast", T + 2)])  # a higher seq, committed first
        cache.follow()
        assert books(cache.cached("ana", 2000)) == ["a", "fast"]
        release.set()
        writer.join(30)
        cache.follow()
        assert books(cache.cached("ana", 2000)) == ["a", "slow", "fast"]
    finally:
        for db in dbs:
            db.close()


def test_the_least_recently_read_user_leaves_first(backend):
    cache = HistoryCache(backend.store(), max_users=2)
    cache.add([like("ana", "a", T), like("bob", "b", T), like("cy", "c", T)])
    cache.user_history("ana"), cache.user_history("bob")
    cache.user_history("ana")  # read again: bob is now the least recent
    cache.user_history("cy")
    assert cache.cached("bob", 2000) is None and books(cache.cached("ana", 2000)) == ["a"] and len(cache) == 2
