"""Conversation memory: the recent turns of each chat session, and what each user liked,
disliked and mentioned across sessions, so a returning user is remembered.

Two backends with one contract: in-process (bounded dicts) and Redis. Memory is a nicety, not
a dependency: the Redis backend never raises for backend trouble. A failed write is dropped and
a failed read returns nothing, both counted, so a chat degrades to "no memory" instead of failing.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol, TypeVar

import redis

from smartlib_server.adapters.cache import call_redis
from smartlib_server.adapters.circuit_breaker import CircuitBreaker
from smartlib_server.domain.profiles import PROFILE_LISTS, UserProfile

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class MemoryLimits:
    max_turns: int = 50  # turns kept per session, newest win
    max_session_bytes: int = 64 * 1024  # encoded turns kept per session, newest win
    session_ttl_s: float = 24 * 3600  # a session is forgotten this long after its last turn
    max_profile_items: int = 200  # per list (liked, disliked, mentioned books, mentioned genres)
    profile_ttl_s: float = 180 * 24 * 3600  # a profile is forgotten this long after its last update

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            if not getattr(self, field.name) > 0:
                raise ValueError(f"MemoryLimits.{field.name} must be positive")


class ConversationMemory(Protocol):
    backend: str  # "memory" or "redis", for metrics and logs

    def append_turn(self, session_id: str, turn: Mapping[str, Any]) -> None:
        """Adds a turn (a JSON-serialisable mapping) to a session and renews the session's TTL.

        The oldest turns are dropped beyond `max_turns` or `max_session_bytes`.

        Raises:
            ValueError: the id is empty, the turn is not JSON-serialisable, or it alone is
                larger than `max_session_bytes`.
        """
        ...

    def recent_turns(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` newest turns of a session, oldest first; [] for an unknown session."""
        ...

    def remember(
        self,
        user_id: str,
        *,
        liked: Iterable[str] = (),
        disliked: Iterable[str] = (),
        mentioned_books: Iterable[str] = (),
        mentioned_genres: Iterable[str] = (),
        liked_genres: Iterable[str] = (),
        disliked_genres: Iterable[str] = (),
    ) -> None:
        """Records what a user showed; later items of an argument count as more recent.

        Liking a book or genre removes it from disliked and the other way round. Every list keeps its
        `max_profile_items` most recent entries; the profile's TTL is renewed.

        Raises:
            ValueError: the id is empty, an item is not a string of at most MAX_ITEM_CHARS,
                or one book or genre is both liked and disliked in this call.
        """
        ...

    def profile(self, user_id: str) -> UserProfile:
        """The user's profile; an empty one for an unknown user."""
        ...

    def forget(self, user_id: str) -> None:
        """Erases everything remembered about a user across sessions (their profile).

        Raises:
            ValueError: the id is empty.
        """
        ...

    def link_session(self, user_id: str, session_id: str) -> None:
        """Records that a session belongs to a user, so that erase_user finds its turns.

        Raises:
            ValueError: an id is empty.
        """
        ...

    def erase_user(self, digest: str) -> ErasedMemory:
        """Erases the user whose `user_digest` this is: profile and linked sessions. Unlike the
        other writes it does not fail open: an erasure must be known to have happened.

        Raises:
            MemoryUnavailable: the backend could not be reached; nothing can be assumed erased.
        """
        ...

    def close(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class ErasedMemory:
    """What erase_user removed."""

    sessions: int = 0  # chat sessions (their turns)
    taste_entries: int = 0  # items across the profile's lists (liked, disliked, mentioned ...)


def user_digest(user_id: str) -> str:
    """The hashed user id both backends key users by; an erasure names a user by it."""
    _check_id("user_id", user_id)
    return _digest(user_id)


MAX_ITEM_CHARS = 256  # book ids are at most 128; this keeps a profile's size bounded
_GENRE_LISTS = frozenset({"mentioned_genres", "liked_genres", "disliked_genres"})
_OPPOSITE = {"liked": "disliked", "disliked": "liked", "liked_genres": "disliked_genres", "disliked_genres": "liked_genres"}


@dataclasses.dataclass(frozen=True)
class _Update:
    """One `remember` call, cleaned: per list, items oldest first, no duplicates."""

    items: Mapping[str, tuple[str, ...]]

    @property
    def empty(self) -> bool:
        return not any(self.items.values())


def _prepare(user_id: str, **lists: Iterable[str]) -> _Update:
    _check_id("user_id", user_id)
    unknown = set(lists) - set(PROFILE_LISTS)
    if unknown:
        raise TypeError(f"remember() got unknown list(s): {', '.join(sorted(unknown))}")
    items = {}
    for name in PROFILE_LISTS:
        values = _strings(name, lists.get(name, ()))
        if name in _GENRE_LISTS:  # genres compare case- and space-insensitively
            items[name] = _dedupe(" ".join(g.split()).lower() for g in values)
        else:
            items[name] = _dedupe(b.strip() for b in values)
    for a, b in (("liked", "disliked"), ("liked_genres", "disliked_genres")):
        both = set(items[a]) & set(items[b])
        if both:
            raise ValueError(f"item(s) both in {a} and {b} in one call: {', '.join(sorted(both))}")
    return _Update(items)


def _strings(name: str, values: Iterable[str]) -> list[str]:
    if isinstance(values, (str, bytes)):
        raise ValueError(f"{name} must be a collection of strings, not one string")
    values = list(values)
    if not all(isinstance(v, str) and len(v) <= MAX_ITEM_CHARS for v in values):
        raise ValueError(f"{name} must hold strings of at most {MAX_ITEM_CHARS} characters")
    return values


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    # dict keeps the last position of a repeated item, which is its most recent mention
    seen: dict[str, None] = {}
    for v in values:
        if v:
            seen.pop(v, None)
            seen[v] = None
    return tuple(seen)


def _encode_turn(turn: Mapping[str, Any], limits: MemoryLimits) -> bytes:
    if not isinstance(turn, Mapping):
        raise ValueError("a turn must be a mapping")
    try:
        data = json.dumps(turn, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"a turn must be JSON-serialisable: {exc}") from None
    if len(data) > limits.max_session_bytes:
        raise ValueError(f"turn is {len(data)} bytes; a session holds at most {limits.max_session_bytes}")
    return data


def _check_id(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


def _check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError("limit must be non-negative")


class InProcessConversationMemory:
    """Memory in this process only: lost on restart and not shared between replicas.

    Sessions and users are each kept in an LRU bounded by count, so memory use stays bounded
    however many users pass by.
    """

    backend = "memory"

    def __init__(
        self,
        limits: MemoryLimits = MemoryLimits(),
        max_sessions: int = 10_000,
        max_users: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.limits = limits
        self._max_sessions = max_sessions
        self._max_users = max_users
        self._clock = clock
        self._lock = threading.Lock()
        # session id -> (expires at, turns oldest first, total bytes)
        self._sessions: OrderedDict[str, tuple[float, list[bytes], int]] = OrderedDict()
        # user id -> (expires at, {list name: items in a dict, whose insertion order is recency})
        self._users: OrderedDict[str, tuple[float, dict[str, dict[str, None]]]] = OrderedDict()
        # user digest -> the session ids linked to that user (for erase_user)
        self._user_sessions: OrderedDict[str, set[str]] = OrderedDict()

    def append_turn(self, session_id: str, turn: Mapping[str, Any]) -> None:
        _check_id("session_id", session_id)
        data = _encode_turn(turn, self.limits)
        now = self._clock()
        with self._lock:
            entry = self._live(self._sessions, session_id, now)
            turns, total = (entry[1], entry[2]) if entry else ([], 0)
            turns.append(data)
            total += len(data)
            while len(turns) > self.limits.max_turns or total > self.limits.max_session_bytes:
                total -= len(turns.pop(0))
            self._sessions[session_id] = (now + self.limits.session_ttl_s, turns, total)
            self._sessions.move_to_end(session_id)
            while len(self._sessions) > self._max_sessions:
                self._sessions.popitem(last=False)

    def recent_turns(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        _check_id("session_id", session_id)
        _check_limit(limit)
        with self._lock:
            entry = self._live(self._sessions, session_id, self._clock())
            turns = list(entry[1][-limit:]) if entry and limit else []
        return [json.loads(t) for t in turns]

    def remember(self, user_id: str, **lists: Iterable[str]) -> None:
        update = _prepare(user_id, **lists)
        if update.empty:
            return
        now = self._clock()
        with self._lock:
            entry = self._live(self._users, user_id, now)
            lists = entry[1] if entry else {}
            for name in PROFILE_LISTS:
                lists.setdefault(name, {})
            for name, items in update.items.items():
                for item in items:
                    lists[name].pop(item, None)
                    lists[name][item] = None
                    if name in _OPPOSITE:
                        lists[_OPPOSITE[name]].pop(item, None)
                kept = lists[name]
                while len(kept) > self.limits.max_profile_items:
                    del kept[next(iter(kept))]
            self._users[user_id] = (now + self.limits.profile_ttl_s, lists)
            self._users.move_to_end(user_id)
            while len(self._users) > self._max_users:
                self._users.popitem(last=False)

    def profile(self, user_id: str) -> UserProfile:
        _check_id("user_id", user_id)
        with self._lock:
            entry = self._live(self._users, user_id, self._clock())
            if entry is None:
                return UserProfile(user_id)
            lists = {name: tuple(reversed(entry[1].get(name, {}))) for name in PROFILE_LISTS}
        return UserProfile(user_id, **lists)

    def forget(self, user_id: str) -> None:
        _check_id("user_id", user_id)
        with self._lock:
            self._users.pop(user_id, None)

    def link_session(self, user_id: str, session_id: str) -> None:
        _check_id("session_id", session_id)
        digest = user_digest(user_id)
        with self._lock:
            linked = self._user_sessions.pop(digest, set())
            linked = {s for s in linked if s in self._sessions} | {session_id}  # expired ones go
            self._user_sessions[digest] = linked
            while len(self._user_sessions) > self._max_users:
                self._user_sessions.popitem(last=False)

    def erase_user(self, digest: str) -> ErasedMemory:
        now = self._clock()
        with self._lock:
            sessions = 0
            for session_id in self._user_sessions.pop(digest, set()):
                sessions += self._live(self._sessions, session_id, now) is not None
                self._sessions.pop(session_id, None)
            entries = 0
            for user_id in [u for u in self._users if _digest(u) == digest]:  # keyed by raw id: scan
                entry = self._live(self._users, user_id, now)
                entries += sum(len(items) for items in entry[1].values()) if entry else 0
                self._users.pop(user_id, None)
        return ErasedMemory(sessions, entries)

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._users.clear()
            self._user_sessions.clear()

    @staticmethod
    def _live(table: OrderedDict, key: str, now: float):
        entry = table.get(key)
        if entry is not None and entry[0] <= now:
            del table[key]
            return None
        return entry


# Append, trim by count, trim by bytes and renew the TTL in one atomic server-side step: a
# MULTI pipeline could do the first three but cannot see turn sizes, which the byte cap needs.
_APPEND_LUA = """
redis.call('RPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
local turns = redis.call('LRANGE', KEYS[1], 0, -1)
local total, cap = 0, tonumber(ARGV[3])
for i = #turns, 1, -1 do
  total = total + string.len(turns[i])
  if total > cap then
    redis.call('LTRIM', KEYS[1], i, -1)
    break
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
"""


class MemoryUnavailable(Exception):
    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"conversation memory unavailable ({kind}){': ' + detail if detail else ''}")
        self.kind = kind


class RedisConversationMemory:
    """Memory in Redis, shared by all replicas. Ids are hashed into keys: raw user ids never
    appear in key names, and no id can forge another's key.

    Layout under `smartlib:<environment>:memory`:
        session:{<sha of session id>}            list of JSON turns, oldest first
        user:{<sha of user id>}:<list name>      sorted set, item -> recency (µs since epoch)
    The braces make all keys of one user a Redis Cluster hash tag, so the profile MULTI works there.
    """

    backend = "redis"

    def __init__(
        self,
        client: redis.Redis,
        breaker: CircuitBreaker,
        *,
        environment: str,
        limits: MemoryLimits = MemoryLimits(),
        clock: Callable[[], float] = time.time,
    ):
        self._client = client
        self._breaker = breaker
        self.limits = limits
        self.namespace = f"smartlib:{environment}:memory"
        self._clock = clock
        self._append = client.register_script(_APPEND_LUA)
        self._lock = threading.Lock()
        self._errors: Counter[str] = Counter()
        self._last_warning = float("-inf")
        self._last_score = 0

    def append_turn(self, session_id: str, turn: Mapping[str, Any]) -> None:
        _check_id("session_id", session_id)
        data = _encode_turn(turn, self.limits)
        args = [data, self.limits.max_turns, self.limits.max_session_bytes, _ms(self.limits.session_ttl_s)]
        self._fail_open(lambda: self._append(keys=[self._session_key(session_id)], args=args), None)

    def recent_turns(self, session_id: str, limit: int) -> list[dict[str, Any]]:
        _check_id("session_id", session_id)
        _check_limit(limit)
        if limit == 0:
            return []
        raw = self._fail_open(lambda: self._client.lrange(self._session_key(session_id), -limit, -1), [])
        return [json.loads(t) for t in raw]

    def remember(self, user_id: str, **lists: Iterable[str]) -> None:
        update = _prepare(user_id, **lists)
        if update.empty:
            return
        keys = self._user_keys(user_id)
        start = self._scores(sum(len(items) for items in update.items.values()))
        ttl = _ms(self.limits.profile_ttl_s)

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            for name, items in update.items.items():
                if not items:
                    continue
                pipe.zadd(keys[name], {item: start + i for i, item in enumerate(items)})
                if name in _OPPOSITE:
                    pipe.zrem(keys[_OPPOSITE[name]], *items)
                # keep the newest max_profile_items: drop ranks 0 .. -(max+1) (lowest scores)
                pipe.zremrangebyrank(keys[name], 0, -(self.limits.max_profile_items + 1))
            for key in keys.values():
                pipe.pexpire(key, ttl)
            pipe.execute()

        self._fail_open(write, None)

    def profile(self, user_id: str) -> UserProfile:
        _check_id("user_id", user_id)
        keys = self._user_keys(user_id)

        def read() -> list[list[bytes]]:
            pipe = self._client.pipeline(transaction=True)
            for name in PROFILE_LISTS:
                pipe.zrevrange(keys[name], 0, -1)
            return pipe.execute()

        lists = self._fail_open(read, None)
        if lists is None:
            return UserProfile(user_id)
        return UserProfile(user_id, **{name: tuple(v.decode() for v in values) for name, values in zip(PROFILE_LISTS, lists, strict=True)})

    def forget(self, user_id: str) -> None:
        # Fails open like every write; a profile that could not be deleted still expires by TTL.
        _check_id("user_id", user_id)
        keys = list(self._user_keys(user_id).values())
        self._fail_open(lambda: self._client.delete(*keys), None)

    def link_session(self, user_id: str, session_id: str) -> None:
        # A set of session-key digests per user, living as long as a session does.
        _check_id("session_id", session_id)
        key = self._sessions_key(user_digest(user_id))

        def write() -> None:
            pipe = self._client.pipeline(transaction=True)
            pipe.sadd(key, _digest(session_id))
            pipe.pexpire(key, _ms(self.limits.session_ttl_s))
            pipe.execute()

        self._fail_open(write, None)

    def erase_user(self, digest: str) -> ErasedMemory:
        # Not atomic across keys (sessions and users hash to different cluster slots); a session
        # linked while this runs is the only thing it can miss, and ForgetUser can be repeated.
        lists = [f"{self._user_base(digest)}:{name}" for name in PROFILE_LISTS]
        linked = self._sessions_key(digest)

        def erase() -> ErasedMemory:
            pipe = self._client.pipeline(transaction=True)
            pipe.smembers(linked)
            for key in lists:
                pipe.zcard(key)
            members, *sizes = pipe.execute()
            sessions = [f"{self.namespace}:session:{{{m.decode()}}}" for m in members]
            removed = self._client.delete(*sessions) if sessions else 0
            self._client.delete(linked, *lists)
            return ErasedMemory(int(removed), int(sum(sizes)))

        return call_redis(self._breaker, erase, MemoryUnavailable)

    def stats(self) -> dict[str, int]:
        """Backend failures by kind (timeout, connection, full, circuit_open, error)."""
        with self._lock:
            return dict(self._errors)

    def close(self) -> None:
        self._client.close()

    def _scores(self, n: int) -> int:
        # Recency scores are µs since the epoch (exact in a double until 2255), made strictly
        # increasing in this process so that consecutive calls keep their order within one µs.
        with self._lock:
            start = max(int(self._clock() * 1_000_000), self._last_score + 1)
            self._last_score = start + n
            return start

    def _session_key(self, session_id: str) -> str:
        return f"{self.namespace}:session:{{{_digest(session_id)}}}"

    def _user_keys(self, user_id: str) -> dict[str, str]:
        base = self._user_base(_digest(user_id))
        return {name: f"{base}:{name}" for name in PROFILE_LISTS}

    def _user_base(self, digest: str) -> str:
        return f"{self.namespace}:user:{{{digest}}}"

    def _sessions_key(self, digest: str) -> str:
        return f"{self._user_base(digest)}:sessions"

    def _fail_open(self, fn: Callable[[], T], fallback: T) -> T:
        try:
            return call_redis(self._breaker, fn, MemoryUnavailable)
        except MemoryUnavailable as exc:
            now = time.monotonic()
            with self._lock:
                self._errors[exc.kind] += 1
                loud = now - self._last_warning >= 10.0
                if loud:
                    self._last_warning = now
            if loud:  # at most one line per 10 s while Redis is down
                log.warning("conversation memory failing, continuing without it: %s", exc)
            return fallback


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))
