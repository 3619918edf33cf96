"""Each user's last scored candidates, so a RecommendForUser call whose inputs did not change
skips the ranking's merge and sort (about half of the call's worker CPU on the 10k catalog).

An entry is kept under the full input of what it caches: the versions the caller names
(catalog, encoder, CF model, ranking weights) and the liked and disliked books with their
weights, as folded from the history read on every call. So any interaction that changes what
the ranking reads, in this replica or another, a catalog write, an encoder swap and a CF
retrain all make the next call compute afresh; nothing has to be told. What stays per call:
the history read, the request's filter and the user's own books (dismissed, read: asked of
every pick), k, the reasons and the exposure. The history's fold (reader_blend.fold) is kept
too, while the history holds the same interaction objects: a kept history (adapters/
history_cache.py) is folded once per change, not on every call. ForgetUser drops the user's
entries (UserEraser),
so nothing derived from an erased history stays in memory; the bound keeps the least recently
served users out.
"""
from __future__ import annotations

import operator
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
F = TypeVar("F")

DEFAULT_USERS = 512  # about 50 KB an entry on the 10k catalog (some 300 scored candidates): 25 MB at most


class RankingCache(Generic[T]):
    """user -> (key, value), the least recently used user dropped beyond `max_users` (0: off)."""

    def __init__(self, max_users: int = DEFAULT_USERS):
        self.max_users = max_users
        self._entries: OrderedDict[str, tuple[Hashable, T]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every drop: a value computed across one is not kept
        self._folds: OrderedDict[str, tuple[tuple, object]] = OrderedDict()  # user -> (history, its fold)
        self._served: tuple[weakref.ref | None, ...] = ()  # what the entries were ranked over
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, user_id: str, key: Hashable, compute: Callable[[], T], served: tuple = ()) -> T:
        """The value kept for `user_id` under an equal `key`, else compute() (kept for next time).

        `served`: the objects the values are computed over (the served vector index, the
        co-reading graph). Any other one drops every entry: a swapped-in catalog or encoder may
        reuse a version number, it cannot be the same object (held weakly, so what is swapped
        out is freed)."""
        if self.max_users <= 0:
            return compute()
        with self._lock:
            if not self._serves(served):
                self._entries.clear()
                self._generation += 1
                self._served = tuple(None if o is None else weakref.ref(o) for o in served)
            entry = self._entries.get(user_id)
            if entry is not None and entry[0] == key:
                self._entries.move_to_end(user_id)
                self.hits += 1
                return entry[1]
            self.misses += 1
            generation = self._generation
        value = compute()  # outside the lock: two first calls of one user may both compute
        with self._lock:
            if generation != self._generation:  # a drop ran meanwhile (ForgetUser, a swap): keep nothing from before it
                return value
            self._keep(self._entries, user_id, (key, value))
        return value

    def folded(self, user_id: str, history: Sequence, compute: Callable[[Sequence], F]) -> F:
        """compute(history), kept for `user_id` while the history is the same objects in the same
        order (interactions are immutable, and a kept history hands out the same ones until it
        changes; one read from the database never matches, and is folded afresh)."""
        if self.max_users <= 0:
            return compute(history)
        with self._lock:
            kept = self._folds.get(user_id)
            if kept is not None and len(kept[0]) == len(history) and all(map(operator.is_, kept[0], history)):
                self._folds.move_to_end(user_id)
                return kept[1]
            generation = self._generation
        value = compute(history)
        with self._lock:
            if generation == self._generation:  # nothing of an erased user is kept
                self._keep(self._folds, user_id, (tuple(history), value))
        return value

    def _keep(self, store: OrderedDict, user_id: str, entry: tuple) -> None:
        """Stores `entry` as the user's most recent one, the least recently served beyond the bound
        leaving (the caller holds the lock)."""
        store[user_id] = entry
        store.move_to_end(user_id)
        while len(store) > self.max_users:
            store.popitem(last=False)

    def _serves(self, served: tuple) -> bool:
        # (a dead reference is no match for None: what it held was swapped out, maybe for nothing)
        return len(served) == len(self._served) and all(
            o is None if ref is None else (o is not None and ref() is o) for ref, o in zip(self._served, served, strict=True))

    def drop_users(self, forget: Callable[[str], bool]) -> int:
        """Drops every user for whom `forget(user_id)` is true; returns how many."""
        with self._lock:
            self._generation += 1
            gone = [user for user in self._entries if forget(user)]
            for user in gone:
                del self._entries[user]
            for user in [user for user in self._folds if forget(user)]:
                del self._folds[user]
        return len(gone)

    def kept_users(self) -> set[str]:
        """Every user something is kept for: an ordering or a fold."""
        with self._lock:
            return set(self._entries) | set(self._folds)

    def __len__(self) -> int:
        return len(self._entries)
