"""Exposures commit without waiting for the disk, except one batch whenever the last durable one is
sync_every_s old; the rows are committed either way (results count them)."""
from __future__ import annotations

from contextlib import contextmanager

from smartlib_server.adapters.experiment_store import ExperimentStore, Exposure
from smartlib_server.adapters.interaction_store import InteractionStore


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def exposure(n: int) -> Exposure:
    return Exposure(f"rec{n}", "exp", "a" if n % 2 else "b", f"u{n}", ("b1", "b2"), 1_700_000_000_000 + n)


def test_a_durable_commit_at_most_every_sync_every_s(any_db):
    clock = Clock()
    store = ExperimentStore(any_db, InteractionStore(any_db), sync_every_s=1.0, clock=clock)
    modes: list[bool] = []
    tx = any_db.tx

    @contextmanager
    def spy(write: bool = True, durable: bool = True):
        if write:
            modes.append(durable)
        with tx(write=write, durable=durable) as cur:
            yield cur
    any_db.tx = spy
    for n, at in enumerate((100.2, 100.9, 101.0, 101.5, 101.99, 102.0, 105.0, 105.1)):
        clock.now = at
        store.add_exposure(exposure(n))
    # durable when the last durable commit (or the store's start, at 100.0) is >= 1 s old
    assert modes == [False, False, True, False, False, True, True, False]
    assert store.exposure_counts("exp") == {"a": 4, "b": 4}
    assert sorted(store.exposures([f"rec{n}" for n in range(8)])) == [f"rec{n}" for n in range(8)]
