"""Users' recent interactions kept in memory, so RecommendForUser reads no SQL per call.

The interaction log stays the truth; this is a view of it that is kept current two ways:

- **This process's writes** go through `add`: the rows are committed first, then applied to the
  kept histories before `add` returns. So a user reads their own writes on the next call
  (read-your-own-writes in this replica).
- **Everyone else's** (other replicas, `smartlib` tools on the same database) are applied by
  `follow`, which the change follower runs every round (app.Services.follow_changes, 0.5 s): it
  reads the log past the last seq it has seen. On SQLite, rows commit in seq order, so nothing
  can appear behind that mark. On PostgreSQL a sequence number is taken before commit, so each
  round also re-reads the last `lookback_s` of seqs (a row seen twice is applied once, by seq).
  A history is also re-read whole once it is `max_age_s` old, which bounds what a missed row
  (a transaction that committed more than `lookback_s` after its insert, a failed round) can
  hide. So another process's write is seen within one follower round (bounded staleness), and
  never later than `max_age_s`.

A history is loaded on first use by one SQL read; a write committed while that read runs is
applied after it (the loader collects what `add` and `follow` apply meanwhile), so a load never
hides one. ForgetUser drops the user (`drop_users`, in this replica and through the erasure log in
the others); a load that spans a drop is not kept. At most `max_users` users and `max_events`
interactions are kept, the least recently read leaving first.
"""
from __future__ import annotations

import bisect
import collections
import threading
import time
from collections.abc import Callable, Sequence

from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.domain.personalization import Interaction

DEFAULT_USERS = 512
DEFAULT_EVENTS = 200_000  # about 40 MB of interactions at most
LOOKBACK_S = 10.0  # PostgreSQL: how long after its insert a transaction may commit and still be followed
MAX_AGE_S = 60.0

_Key = tuple[int, int]  # (timestamp_ms, seq): the log's order for a user


class _History:
    __slots__ = ("keys", "events", "seqs", "loaded_at")

    def __init__(self, rows: Sequence[tuple[int, Interaction]], loaded_at: float):
        self.keys: list[_Key] = []
        self.events: list[Interaction] = []
        self.seqs: set[int] = set()
        self.loaded_at = loaded_at
        for seq, event in rows:
            self.insert(seq, event)

    def insert(self, seq: int, event: Interaction) -> bool:
        if seq in self.seqs:
            return False
        key = (event.timestamp_ms, seq)
        at = bisect.bisect(self.keys, key)
        self.keys.insert(at, key)
        self.events.insert(at, event)
        self.seqs.add(seq)
        return True

    def trim(self, limit: int) -> None:
        """Keeps the newest `limit`, as the store's `ORDER BY ts_ms DESC, seq DESC LIMIT` would."""
        extra = len(self.events) - limit
        if extra > 0:
            self.seqs.difference_update(seq for _, seq in self.keys[:extra])
            del self.keys[:extra], self.events[:extra]


class HistoryCache:
    """`user_history` as InteractionStore's, served from memory; `add` writes through.

    Args:
        store: the interaction log.
        limit: the longest history kept per user (a longer one asked for is read from the store).
        max_users, max_events: the bound (the least recently read users leave first); 0 users: off.
        lookback_s: seqs re-read by every `follow` (0 on SQLite, where commits are in seq order).
        max_age_s: a history this old is re-read whole on its next use.
        clock: monotonic seconds (tests pass a fake).
    """

    def __init__(self, store: InteractionStore, limit: int = 2000, max_users: int = DEFAULT_USERS,
                 max_events: int = DEFAULT_EVENTS, lookback_s: float | None = None, max_age_s: float = MAX_AGE_S,
                 clock: Callable[[], float] = time.monotonic):
        self.store = store
        self.limit = limit
        self.max_users = max_users
        self.max_events = max_events
        self.lookback_s = (0.0 if store.commits_in_seq_order else LOOKBACK_S) if lookback_s is None else lookback_s
        self.max_age_s = max_age_s
        self.clock = clock
        self._lock = threading.Lock()
        self._follow_lock = threading.Lock()
        self._histories: collections.OrderedDict[str, _History] = collections.OrderedDict()
        self._events = 0
        self._loading: dict[str, list[tuple[int, Interaction]]] = {}  # user -> rows applied during its load
        self._generation = 0  # bumped by every drop: a load across one is not kept
        self._seen = store.last_seq()  # histories loaded later hold everything up to here
        self._marks: collections.deque[tuple[float, int]] = collections.deque()  # (when, seen) for the lookback
        self.loads = 0

    # -- reads -----------------------------------------------------------------------------
    def cached(self, user_id: str, limit: int) -> list[Interaction] | None:
        """The user's history if it is kept and fresh, else None; never touches the database."""
        if self.max_users <= 0 or limit > self.limit:
            return None
        with self._lock:
            history = self._histories.get(user_id)
            if history is None or self.clock() - history.loaded_at >= self.max_age_s:
                return None
            self._histories.move_to_end(user_id)
            return history.events[-limit:]

    def user_history(self, user_id: str, limit: int = 2000) -> list[Interaction]:
        """The user's most recent `limit` interactions, oldest first: kept, or read and kept."""
        kept = self.cached(user_id, limit)
        if kept is not None:
            return kept
        if self.max_users <= 0 or limit > self.limit:
            return self.store.user_history(user_id, limit)
        with self._lock:
            if user_id in self._loading:  # another thread loads it: read without keeping
                return self.store.user_history(user_id, limit)
            self._loading[user_id] = []
            generation = self._generation
        try:
            started = self.clock()
            rows = self.store.user_history_seqs(user_id, self.limit)
        except BaseException:
            with self._lock:
                self._loading.pop(user_id, None)
            raise
        with self._lock:
            during = self._loading.pop(user_id, [])
            history = _History(rows, started)
            for seq, event in during:
                history.insert(seq, event)
            history.trim(self.limit)
            if generation == self._generation:
                self._keep(user_id, history)
                self.loads += 1
            return history.events[-limit:]

    # -- writes ----------------------------------------------------------------------------
    def add(self, items: Sequence[Interaction]) -> list[int]:
        """Stores a batch (InteractionStore.add), then applies it here: the next read sees it."""
        seqs = self.store.add(items)
        self._apply(list(zip(seqs, items, strict=True)))
        return seqs

    def follow(self) -> int:
        """Applies interactions other processes logged since the last round; returns how many
        rows of kept (or loading) users it applied."""
        with self._follow_lock:
            now = self.clock()
            low = self._seen
            if self.lookback_s > 0:  # from the mark as it stood lookback_s ago (this round's, at least)
                self._marks.append((now, self._seen))
                while now - self._marks[0][0] > self.lookback_s:
                    self._marks.popleft()
                low = self._marks[0][1]
            applied = 0
            while True:
                rows = self.store.since(low, 10_000)
                applied += self._apply(rows)
                if rows:
                    low = rows[-1][0]
                    self._seen = max(self._seen, low)
                if len(rows) < 10_000:
                    break
            return applied

    def drop_users(self, forget: Callable[[str], bool]) -> int:
        """Drops every kept user for whom `forget(user_id)` is true (ForgetUser); returns how many."""
        with self._lock:
            self._generation += 1
            gone = [user for user in self._histories if forget(user)]
            for user in gone:
                self._events -= len(self._histories.pop(user).events)
            for user in self._loading:
                if forget(user):
                    self._loading[user] = []
        return len(gone)

    def __len__(self) -> int:
        return len(self._histories)

    # -- inside ----------------------------------------------------------------------------
    def _apply(self, rows: Sequence[tuple[int, Interaction]]) -> int:
        applied = 0
        with self._lock:
            for seq, event in rows:
                user = event.user_id
                history = self._histories.get(user)
                if history is not None:
                    before = len(history.events)
                    if history.insert(seq, event):
                        history.trim(self.limit)
                        self._events += len(history.events) - before
                        applied += 1
                elif user in self._loading:
                    self._loading[user].append((seq, event))
                    applied += 1
        return applied

    def _keep(self, user_id: str, history: _History) -> None:
        old = self._histories.pop(user_id, None)
        if old is not None:
            self._events -= len(old.events)
        self._histories[user_id] = history
        self._events += len(history.events)
        while self._histories and (len(self._histories) > self.max_users or self._events > self.max_events):
            _, dropped = self._histories.popitem(last=False)
            self._events -= len(dropped.events)
