"""Reader rows kept in SMARTLIB_HOME/derived/reader-rows (services/recommend/stored_rows.py): a
restart serves them at once and the warmer builds none of them; rows of another catalog version
or encoder, and damaged files, are never served, and the rows are built and stored anew."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from smartlib_core.domain import BookFilter
from smartlib_server.api import wire
from smartlib_server.services.recommend import stored_rows
from smartlib_server.services.recommend.service import READER_ROW

from . import test_row_warmer
from .test_row_warmer import built_ahead, wait_warm

make_ranked = test_row_warmer.make_ranked  # the fixture: servers over the starter catalog with a reader ranker


def rows_files(server) -> list:
    return sorted((server.services.settings.home / "derived" / stored_rows.FOLDER).glob("*.npz"))


def kept_rows(server) -> int:
    state, version = server.services.index.state, server.services.index.version
    return len(server.services.recommend.rows.kept(state.finetuned.index, version, READER_ROW))


def answers(server, ids: list[str]) -> list[bytes]:
    """The RecommendResponse bytes the servicer sends for each book (k=10), read on the event
    loop's path (wait=False: no row is built), with the book's first candidate excluded."""
    live = server.services.recommend
    replies = []
    for book_id in ids:
        first = live.similar_books(book_id, 1, None, BookFilter(), wait=False).items[0].book.id
        for filt in (BookFilter(), BookFilter(exclude_ids=frozenset({first}))):
            replies.append(wire.recommend_response(live.similar_books(book_id, 10, None, filt, wait=False), kept=True))
    return replies


@pytest.fixture
def warmed(make_ranked):
    """A server that warmed every row and stored them, stopped: its home is ready to restart."""
    first = make_ranked()
    wait_warm(first)
    assert len(rows_files(first)) == 1
    sample = sorted(first.services.index.books)[::13]
    expected = answers(first, sample)
    first.stop()
    return first, sample, expected


def test_a_restart_serves_the_stored_rows_and_the_warmer_builds_none(make_ranked, warmed):
    first, sample, expected = warmed
    second = make_ranked()
    books = second.services.index.books
    assert kept_rows(second) == len(books)  # before the warmer ran: load() restored them
    assert answers(second, sample) == expected  # byte for byte, with the stored reasons; no row is built
    wait_warm(second)
    assert second.services.warmer.progress.built == 0 and not built_ahead(second)


def test_rows_of_another_catalog_version_are_ignored_and_rebuilt(make_ranked, warmed):
    first, _, _ = warmed
    writer = make_ranked()
    writer.services.warmer.stop()  # so only the stale version's file is on disk
    book = next(iter(writer.services.index.books.values()))
    writer.services.catalog.upsert_books([dataclasses.replace(book, avg_rating=1.0)])
    writer.stop()
    second = make_ranked()
    assert kept_rows(second) == 0
    wait_warm(second)
    assert second.services.warmer.progress.built == len(second.services.index.books)
    assert len(rows_files(second)) == 2  # the stale file stays (a rollback may want it) beside the new one


def test_rows_a_server_rebuilt_after_a_write_serve_a_restart_at_that_version(make_ranked, warmed):
    writer = make_ranked()
    book = next(iter(writer.services.index.books.values()))
    writer.services.catalog.upsert_books([dataclasses.replace(book, avg_rating=1.0)])
    wait_warm(writer)  # the warmer's pass after the write stores the rows of the new version
    version = writer.services.index.version
    writer.stop()
    second = make_ranked()
    assert second.services.index.version == version
    assert kept_rows(second) == len(second.services.index.books)


def test_rows_of_another_encoder_are_ignored(make_ranked, warmed):
    second = make_ranked(warm_rows=False)
    services = second.services
    other = dataclasses.replace(services.index.finetuned, fingerprint="local:another-encoder")
    services.index.load(finetuned=other)
    assert services.recommend.restore_reader_rows() == 0
    services.index.load(finetuned=dataclasses.replace(other, fingerprint=warmed[0].services.index.finetuned.fingerprint))
    assert services.recommend.restore_reader_rows() == len(services.index.books)  # the control


def truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def point_outside(path) -> None:
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["members"][5] = len(arrays["ids"]) + 7
    with path.open("wb") as out:
        np.savez(out, **arrays)


def reason_outside(path) -> None:
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["reasons"][5] = len(arrays["reason_starts"])
    with path.open("wb") as out:
        np.savez(out, **arrays)


@pytest.mark.parametrize("damage", [truncate, point_outside, reason_outside])
def test_a_damaged_file_is_ignored_rebuilt_and_replaced(make_ranked, warmed, damage, caplog):
    first, sample, expected = warmed
    damage(rows_files(first)[0])
    second = make_ranked()
    assert kept_rows(second) == 0
    assert "ignoring" in caplog.text
    wait_warm(second)
    assert second.services.warmer.progress.built == len(second.services.index.books)
    second.stop()
    third = make_ranked()  # the pass stored the rows again, whole
    assert kept_rows(third) == len(third.services.index.books)
    assert answers(third, sample) == expected
