"""Each user's last scored candidates, so a RecommendForUser call whose inputs did not change
skips the ranking's merge and sort (about half of the call's worker CPU on the 10k catalog).

An entry is kept under the full input of what it caches: the versions the caller names
(catalog, encoder, CF model, ranking weights) and the liked and disliked books with their
weights, as folded from the history read on every call. So any interaction that changes what
the ranking reads, in this replica or another, a catalog write, an encoder swap and a CF
retrain all make the next call compute afresh; nothing has to be told. What stays per call:
the history read, the request's filter and the user's own books (dismissed, read: asked of
every pick), k, the reasons and the exposure. ForgetUser drops the user's entry (UserEraser),
so nothing derived from an erased history stays in memory; the bound keeps the least recently
served users out.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")

DEFAULT_USERS = 512  # about 50 KB an entry on the 10k catalog (some 300 scored candidates): 25 MB at most


class RankingCache(Generic[T]):
    """user -> (key, value), the least recently used user dropped beyond `max_users` (0: off)."""

    def __init__(self, max_users: int = DEFAULT_USERS):
        self.max_users = max_users
        self._entries: OrderedDict[str, tuple[Hashable, T]] = OrderedDict()
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every drop: a value computed across one is not kept
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
            self._entries[user_id] = (key, value)
            self._entries.move_to_end(user_id)
            while len(self._entries) > self.max_users:
                self._entries.popitem(last=False)
        return value

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
        return len(gone)

    def __len__(self) -> int:
        return len(self._entries)
