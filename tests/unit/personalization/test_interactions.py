"""Interaction log (SQLite and PostgreSQL) and per-item validation of RecordInteractions."""
from __future__ import annotations

import pytest

from smartlib_core.errors import InvalidArgument
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import sqlite_database
from smartlib_server.domain.personalization import Interaction, InteractionInput, InteractionKind as K
from smartlib_server.services.personalization.interactions import InteractionService, validate_batch

NOW_MS = 1_780_000_000_000
BOOKS = {"gr-1": "gr-1", "gr-2": "gr-2", "old-edition": "gr-2"}  # an alias of a merged edition


def resolve(book_id: str) -> str | None:
    return BOOKS.get(book_id)


def test_store_round_trip_orders_history_and_log(any_db):
    store = InteractionStore(any_db)
    store.add([
        Interaction("ana", "gr-1", K.READ, 0, NOW_MS + 2),
        Interaction("ana", "gr-2", K.RATE, 4, NOW_MS + 1, "rec1"),
        Interaction("bob", "gr-1", K.LIKE, 0, NOW_MS),
    ])
    history = store.user_history("ana")
    assert [(e.book_id, e.kind, e.rating) for e in history] == [("gr-2", K.RATE, 4), ("gr-1", K.READ, 0)]
    assert history[0].recommendation_id == "rec1"
    log = store.since(0)
    assert [e.user_id for _, e in log] == ["ana", "ana", "bob"]
    assert store.since(log[1][0]) == log[2:]
    assert store.last_seq() == log[-1][0] and store.count() == 3


def test_history_limit_keeps_the_newest(interaction_store):
    interaction_store.add([Interaction("ana", f"gr-{i}", K.CLICK, 0, NOW_MS + i) for i in range(10)])
    assert [e.book_id for e in interaction_store.user_history("ana", limit=3)] == ["gr-7", "gr-8", "gr-9"]


def test_interactions_survive_reopening_the_database(tmp_path):
    db = sqlite_database(tmp_path / "c.sqlite3")
    InteractionStore(db).add([Interaction("ana", "gr-1", K.LIKE, 0, NOW_MS)])
    db.close()
    reopened = sqlite_database(tmp_path / "c.sqlite3")
    try:
        assert [e.book_id for e in InteractionStore(reopened).user_history("ana")] == ["gr-1"]
    finally:
        reopened.close()


def test_each_bad_item_is_rejected_with_its_field_and_the_rest_kept():
    items = [
        InteractionInput("ana", "gr-1", K.LIKE),  # 0 ok
        InteractionInput("ana", "nope", K.READ),  # 1 unknown book
        InteractionInput("ana", "gr-1", 0),  # 2 unspecified kind
        InteractionInput("ana", "gr-1", 42),  # 3 unknown kind
        InteractionInput("ana", "gr-1", K.RATE, rating=6),  # 4 rating out of range
        InteractionInput("ana", "gr-1", K.RATE, rating=0),  # 5 rating missing
        InteractionInput("ana", "gr-1", K.LIKE, rating=3),  # 6 rating on a non-RATE kind
        InteractionInput("", "gr-1", K.LIKE),  # 7 empty user
        InteractionInput("u" * 129, "gr-1", K.LIKE),  # 8 user id too long
        InteractionInput("ana", "gr-1", K.CLICK, timestamp_ms=NOW_MS + 2 * 86_400_000),  # 9 future
        InteractionInput("ana", "gr-1", K.CLICK, recommendation_id="not a rec id!"),  # 10
        InteractionInput("ana", "old-edition", K.RATE, rating=5, timestamp_ms=NOW_MS - 5),  # 11 ok, alias
        InteractionInput("", "nope", 0),  # 12 three problems at once
    ]
    accepted, rejected = validate_batch(items, resolve, NOW_MS)
    assert [(a.book_id, a.kind, a.rating, a.timestamp_ms) for a in accepted] == [
        ("gr-1", K.LIKE, 0, NOW_MS), ("gr-2", K.RATE, 5, NOW_MS - 5),
    ]
    fields = [(r.index, r.field) for r in rejected]
    assert fields == [
        (1, "interactions[1].book_id"), (2, "interactions[2].kind"), (3, "interactions[3].kind"),
        (4, "interactions[4].rating"), (5, "interactions[5].rating"), (6, "interactions[6].rating"),
        (7, "interactions[7].user_id"), (8, "interactions[8].user_id"), (9, "interactions[9].timestamp"),
        (10, "interactions[10].recommendation_id"),
        (12, "interactions[12].user_id"), (12, "interactions[12].book_id"), (12, "interactions[12].kind"),
    ]
    assert "no book with id 'nope'" in rejected[0].description
    assert "INTERACTION_KIND_LIKE" in rejected[1].description


def test_service_stores_accepted_items_and_reports_rejections(interaction_store):
    seen = []
    service = InteractionService(interaction_store, resolve, listeners=[seen.append], clock=lambda: NOW_MS / 1000)
    outcome = service.record([InteractionInput("ana", "gr-1", K.READ), InteractionInput("ana", "zzz", K.READ)])
    assert outcome.accepted == 1 and [r.field for r in outcome.rejected] == ["interactions[1].book_id"]
    assert [(e.book_id, e.timestamp_ms) for e in interaction_store.user_history("ana")] == [("gr-1", NOW_MS)]
    assert [[e.book_id for e in batch] for batch in seen] == [["gr-1"]]


def test_a_failing_listener_does_not_lose_the_write(interaction_store):
    def broken(_):
        raise RuntimeError("metrics backend down")

    service = InteractionService(interaction_store, resolve, listeners=[broken])
    assert service.record([InteractionInput("ana", "gr-1", K.LIKE)]).accepted == 1
    assert interaction_store.count() == 1


def test_oversized_batch_is_refused_as_a_whole(interaction_store):
    service = InteractionService(interaction_store, resolve, max_batch=3)
    with pytest.raises(InvalidArgument) as err:
        service.record([InteractionInput("ana", "gr-1", K.VIEW)] * 4)
    assert set(err.value.violations) == {"interactions"}
    assert interaction_store.count() == 0
