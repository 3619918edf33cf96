"""RecordInteractions: per-item validation, then one durable write of everything that passed.

A bad item never sinks the batch: each problem comes back as a Rejection naming the field
(`interactions[3].book_id`), and the rest is stored.
"""
from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Sequence

from smartlib_core.errors import InvalidArgument
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.domain.personalization import (
    Interaction,
    InteractionInput,
    InteractionKind,
    RecordOutcome,
    Rejection,
)

log = logging.getLogger(__name__)

MAX_BATCH = 1000
MAX_USER_ID_CHARS = 128
MAX_BOOK_ID_CHARS = 128
MAX_FUTURE_MS = 24 * 3600 * 1000  # clocks drift; a day ahead is a broken clock, not drift
EARLIEST_MS = 946_684_800_000  # 2000-01-01: older stamps are unset or corrupt fields
_RECOMMENDATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_KIND_NAMES = ", ".join(f"INTERACTION_KIND_{k.name}" for k in InteractionKind)


def validate_batch(
    items: Sequence[InteractionInput],
    resolve_book: Callable[[str], str | None],
    now_ms: int,
    field: str = "interactions",
) -> tuple[list[Interaction], list[Rejection]]:
    """Splits a batch into valid interactions (book ids made canonical) and rejections.

    Every problem of an item is reported, so a client can fix an item in one round trip.
    """
    accepted: list[Interaction] = []
    rejected: list[Rejection] = []
    for i, item in enumerate(items):
        problems: list[tuple[str, str]] = []
        user_id = item.user_id.strip()
        if not user_id:
            problems.append(("user_id", "must not be empty"))
        elif len(item.user_id) > MAX_USER_ID_CHARS:
            problems.append(("user_id", f"must be at most {MAX_USER_ID_CHARS} characters"))
        elif "\x00" in user_id:
            problems.append(("user_id", "must not contain NUL characters"))
        book_id = None
        if not item.book_id.strip():
            problems.append(("book_id", "must not be empty"))
        elif len(item.book_id) > MAX_BOOK_ID_CHARS:
            problems.append(("book_id", f"must be at most {MAX_BOOK_ID_CHARS} characters"))
        else:
            book_id = resolve_book(item.book_id.strip())
            if book_id is None:
                problems.append(("book_id", f"no book with id {item.book_id.strip()!r}; use SearchBooks to find ids"))
        kind = item.kind
        if not isinstance(kind, InteractionKind):
            problems.append(("kind", f"unknown or unspecified kind {kind}; use one of {_KIND_NAMES}"))
        elif kind is InteractionKind.RATE and not 1 <= item.rating <= 5:
            problems.append(("rating", f"must be 1 to 5 for INTERACTION_KIND_RATE, got {item.rating}"))
        elif kind is not InteractionKind.RATE and item.rating != 0:
            problems.append(("rating", "must be 0 unless kind is INTERACTION_KIND_RATE"))
        ts = now_ms if item.timestamp_ms is None else item.timestamp_ms
        if ts > now_ms + MAX_FUTURE_MS:
            problems.append(("timestamp", "is more than a day in the future"))
        elif ts < EARLIEST_MS:
            problems.append(("timestamp", "is before 2000-01-01; leave it unset to use the server's time"))
        if item.recommendation_id and not _RECOMMENDATION_ID.match(item.recommendation_id):
            problems.append(("recommendation_id", "must be a recommendation_id returned by RecommendForUser"))
        if problems:
            rejected.extend(Rejection(i, f"{field}[{i}].{name}", why) for name, why in problems)
            continue
        accepted.append(
            Interaction(user_id, book_id, kind, item.rating, ts, item.recommendation_id)  # type: ignore[arg-type]
        )
    return accepted, rejected


class InteractionService:
    """Validates and stores interactions, then tells listeners (CF trainer, experiment metrics)."""

    def __init__(
        self,
        store: InteractionStore,
        resolve_book: Callable[[str], str | None],
        listeners: Sequence[Callable[[list[Interaction]], None]] = (),
        max_batch: int = MAX_BATCH,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.resolve_book = resolve_book
        self.listeners = list(listeners)
        self.max_batch = max_batch
        self.clock = clock

    def record(self, items: Sequence[InteractionInput]) -> RecordOutcome:
        if len(items) > self.max_batch:
            raise InvalidArgument.field("interactions", f"at most {self.max_batch} per request, got {len(items)}")
        now_ms = int(math.floor(self.clock() * 1000))
        accepted, rejected = validate_batch(items, self.resolve_book, now_ms)
        self.store.add(accepted)
        for listener in self.listeners:
            try:
                listener(accepted)
            except Exception:  # the write is durable; a listener failing must not fail the RPC
                log.warning("interaction listener %r failed", listener, exc_info=True)
        return RecordOutcome(len(accepted), tuple(rejected))


def book_resolver(books: Callable[[], dict], resolve_alias: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """Resolves a book id against the served catalog first, then the store's merged-edition aliases."""

    def resolve(book_id: str) -> str | None:
        if book_id in books():
            return book_id
        canonical = resolve_alias(book_id)
        return canonical if canonical is not None and canonical in books() else None

    return resolve
