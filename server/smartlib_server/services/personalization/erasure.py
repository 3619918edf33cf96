"""ForgetUser: erase one user from every store, in this replica and the others.

What is kept about a user, and where:
- interactions and experiment exposures: the catalog database, shared by every replica;
- chat sessions and tastes: conversation memory (Redis, shared; or in-process, per replica);
- (user, book) preferences: each replica's in-process collaborative-filtering trainer;
- the user's last scored candidates and recent history: each replica's RecommendForUser ranking
  cache and history cache (adapters/history_cache.py).
Answers to RecommendForUser are not in the answer cache (it holds SimilarBooks and
SearchByText, whose keys carry no user).

One transaction deletes the rows and appends the user's digest to an `erasures` log. Every
replica follows that log (Services.follow_changes) and erases the user from its own in-process
memory and CF state; a replica that starts later builds both from the already-erased stores.
The log holds a hash of the user id, never the id.
"""
from __future__ import annotations

import dataclasses
import logging
import threading

from smartlib_core.errors import InvalidArgument, Unavailable
from smartlib_server.adapters.erasure_store import ErasureStore
from smartlib_server.adapters.history_cache import HistoryCache
from smartlib_server.adapters.memory.contract import ConversationMemory, MemoryUnavailable, user_digest
from smartlib_server.services.personalization.cf import CFTrainer
from smartlib_server.services.personalization.ranking_cache import RankingCache
from smartlib_server.services.validation import require_id

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ErasureReport:
    interactions: int = 0
    experiment_exposures: int = 0
    chat_sessions: int = 0
    chat_taste_entries: int = 0
    cf_preferences: int = 0  # in the replica that ran the erasure


class UserEraser:
    """Args:
        store: the erasure log and the user's rows in the catalog database.
        trainer: this replica's CF trainer.
        memory: conversation memory.
        ranking_cache: this replica's RecommendForUser ranking cache, None without one.
        histories: this replica's kept histories, None without them.
    """

    def __init__(self, store: ErasureStore, trainer: CFTrainer, memory: ConversationMemory,
                 ranking_cache: RankingCache | None = None, histories: HistoryCache | None = None):
        self._store = store
        self._trainer = trainer
        self._memory = memory
        self._ranking_cache = ranking_cache
        self._histories = histories
        self._lock = threading.Lock()
        # Erasures before this start are already reflected in the stores this replica loads from.
        self._seen = store.last_seq()
        self._own: set[int] = set()

    def forget_user(self, user_id: str) -> ErasureReport:
        """Erases `user_id` everywhere and reports what went.

        Raises:
            InvalidArgument: the id is empty, longer than 128 characters or holds a NUL.
            Unavailable: conversation memory or the database could not be reached; retry.
        """
        user_id = require_id(user_id, "user_id")
        if "\x00" in user_id:  # PostgreSQL text cannot hold NUL; RecordInteractions never stored one
            raise InvalidArgument.field("user_id", "must not contain NUL characters")
        digest = user_digest(user_id)
        # Memory first: if it is unreachable, nothing is erased and the caller retries the whole.
        memory = self._erase_memory(digest)
        # The log row and its place in `_own` appear together under the lock: a follow() running
        # between the two would apply this erasure itself and leave this call nothing to report.
        with self._lock:
            interactions, exposures, seq = self._store.erase(user_id, digest)
            self._own.add(seq)  # applied here already: follow() must not erase the user's next visit
        preferences = self._trainer.drop_users(lambda user: user == user_id)
        self._drop_ranking(lambda user: user == user_id)
        log.info("erased a user: %d interactions, %d exposures, %d sessions", interactions, exposures, memory.sessions)
        return ErasureReport(interactions, exposures, memory.sessions, memory.taste_entries, preferences)

    def follow(self) -> int:
        """Applies erasures other replicas logged since the last call; returns how many.

        This replica's own erasures are skipped. If memory is down, the erasure stays pending
        and the next call retries it."""
        with self._lock:
            rows = self._store.since(self._seen)
            applied = 0
            for seq, digest in rows:
                if seq not in self._own:
                    self._erase_memory(digest)
                    self._trainer.drop_users(lambda user, d=digest: user_digest(user) == d)
                    self._drop_ranking(lambda user, d=digest: user_digest(user) == d)
                    applied += 1
                self._own.discard(seq)
                self._seen = int(seq)
            return applied

    def _drop_ranking(self, forget) -> None:
        if self._ranking_cache is not None:
            self._ranking_cache.drop_users(forget)
        if self._histories is not None:
            self._histories.drop_users(forget)

    def _erase_memory(self, digest: str):
        try:
            return self._memory.erase_user(digest)
        except MemoryUnavailable as exc:
            raise Unavailable(f"conversation memory is unreachable ({exc.kind}); nothing was erased, retry") from None
