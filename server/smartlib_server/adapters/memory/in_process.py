"""Conversation memory in this process: bounded LRU dicts, lost on restart."""
from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from smartlib_server.adapters.memory.contract import (
    DEFAULT_LIMITS,
    OPPOSITE,
    ErasedMemory,
    MemoryLimits,
    check_id,
    check_limit,
    encode_turn,
    hash_id,
    prepare_update,
    user_digest,
)
from smartlib_server.domain.profiles import PROFILE_LISTS, UserProfile


class InProcessConversationMemory:
    """Memory in this process only: lost on restart and not shared between replicas.

    Sessions and users are each kept in an LRU bounded by count, so memory use stays bounded
    however many users pass by.
    """

    backend = "memory"

    def __init__(
        self,
        limits: MemoryLimits = DEFAULT_LIMITS,
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
        check_id("session_id", session_id)
        data = encode_turn(turn, self.limits)
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
        check_id("session_id", session_id)
        check_limit(limit)
        with self._lock:
            entry = self._live(self._sessions, session_id, self._clock())
            turns = list(entry[1][-limit:]) if entry and limit else []
        return [json.loads(t) for t in turns]

    def remember(self, user_id: str, **lists: Iterable[str]) -> None:
        update = prepare_update(user_id, **lists)
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
                    if name in OPPOSITE:
                        lists[OPPOSITE[name]].pop(item, None)
                kept = lists[name]
                while len(kept) > self.limits.max_profile_items:
                    del kept[next(iter(kept))]
            self._users[user_id] = (now + self.limits.profile_ttl_s, lists)
            self._users.move_to_end(user_id)
            while len(self._users) > self._max_users:
                self._users.popitem(last=False)

    def profile(self, user_id: str) -> UserProfile:
        check_id("user_id", user_id)
        with self._lock:
            entry = self._live(self._users, user_id, self._clock())
            if entry is None:
                return UserProfile(user_id)
            lists = {name: tuple(reversed(entry[1].get(name, {}))) for name in PROFILE_LISTS}
        return UserProfile(user_id, **lists)

    def forget(self, user_id: str) -> None:
        check_id("user_id", user_id)
        with self._lock:
            self._users.pop(user_id, None)

    def link_session(self, user_id: str, session_id: str) -> None:
        check_id("session_id", session_id)
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
            for user_id in [u for u in self._users if hash_id(u) == digest]:  # keyed by raw id: scan
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
