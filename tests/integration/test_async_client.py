"""AsyncSmartLibrary against the real in-process server: every method, the answers equal to the
sync client's, page_iter fetching lazily in both clients, and admin helpers with the admin token
(in both clients).
Retries and wait_until_ready are in test_client_retries.py."""
from __future__ import annotations

import asyncio
import dataclasses

import grpc
import pandas as pd
import pytest

from smartlib_client import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Records,
    SmartLibrary,
    Unauthenticated,
)
from smartlib_client.aio import AsyncChat, AsyncSmartLibrary
from smartlib_client.frames import BOOK_COLUMNS, RECOMMEND_COLUMNS

ADMIN_TOKEN = "admin-token-e41d8cd98f00b204e9800998ecf8427e"


class _CountCalls(grpc.aio.ServerInterceptor):
    def __init__(self):
        self.methods: list[str] = []

    async def intercept_service(self, continuation, details):
        self.methods.append(details.method.rsplit("/", 1)[1])
        return await continuation(details)


@pytest.fixture
def served(make_server, starter_settings, two_encoders):
    root, versions = two_encoders
    counter = _CountCalls()
    settings = dataclasses.replace(starter_settings, model_store=root, encoder_version=versions[0], admin_token=ADMIN_TOKEN)
    return make_server(settings, interceptors=[counter]), counter, versions


def _run(coro):
    return asyncio.run(coro)


def test_reads_answer_as_the_sync_client_does(served):
    server, _, _ = served

    async def reads(lib: AsyncSmartLibrary) -> dict:
        return {
            "find": await lib.find("the hobit", limit=3),
            "find_records": await lib.find("the hobit", limit=3, as_records=True),
            "resolve": await lib.resolve("The Hobbit"),
            "similar": await lib.similar("The Hobbit", k=5, min_avg_rating=4.0, approach="baseline"),
            "search": await lib.search("space opera about galactic empires", k=5, as_records=True),
            "list": await lib.list_books(page_size=128),
        }

    async def main():
        async with AsyncSmartLibrary(server.address, timeout=30) as lib:
            got = await reads(lib)
            got["book"] = await lib.book(got["resolve"])
            with pytest.raises(NotFound):
                await lib.book("gr-999999999999")
            with pytest.raises(InvalidArgument) as info:
                await lib.search("dragons", k=0)
            assert any(field.endswith("k") for field in info.value.violations)
            return got

    got = _run(main())
    with SmartLibrary(server.address, timeout=30) as sync:
        hobbit = sync.resolve("The Hobbit")
        assert got["resolve"] == hobbit and got["book"] == sync.book(hobbit)
        pd.testing.assert_frame_equal(got["find"], sync.find("the hobit", limit=3))
        pd.testing.assert_frame_equal(got["similar"], sync.similar(hobbit, k=5, min_avg_rating=4.0, approach="baseline"))
        pd.testing.assert_frame_equal(got["list"], sync.list_books())
    assert list(got["find"].columns) == BOOK_COLUMNS and "Hobbit" in got["find"].iloc[0]["title"]
    assert isinstance(got["find_records"], Records) and got["find_records"] == got["find"].to_dict("records")
    assert list(got["similar"].columns) == RECOMMEND_COLUMNS and (got["similar"]["avg_rating"] >= 4.0).all()
    assert got["similar"].attrs["approach"] == "baseline"
    search = got["search"]
    assert isinstance(search, Records) and len(search) == 5 and search.attrs["approach"] == "finetuned"
    assert [row["rank"] for row in search] == [1, 2, 3, 4, 5] and set(search[0]) == set(RECOMMEND_COLUMNS)
    assert len(got["list"]) == len(server.services.index.books) and got["list"]["id"].is_monotonic_increasing


def test_page_iter_fetches_a_page_only_when_the_iteration_reaches_it(served):
    server, counter, _ = served
    books = len(server.services.index.books)
    pages = -(-books // 100)
    assert pages >= 3

    def list_calls() -> int:
        return counter.methods.count("ListBooks")

    with SmartLibrary(server.address, timeout=30) as sync:
        iterator = sync.page_iter(page_size=100)
        assert list_calls() == 0  # nothing is fetched before the first page is asked for
        first = next(iterator)
        assert list_calls() == 1 and len(first) == 100
        rest = list(iterator)
        assert list_calls() == pages and sum(map(len, [first, *rest])) == books

    async def main():
        async with AsyncSmartLibrary(server.address, timeout=30) as lib:
            before = list_calls()
            seen = []
            async for page in lib.page_iter(page_size=100, as_records=True):
                seen.append((list_calls() - before, len(page)))
                if len(seen) == 2:
                    break  # the rest is never fetched
            assert list_calls() - before == 2
            return seen

    assert _run(main()) == [(1, 100), (2, 100)]


def test_writes_interactions_and_chat(served):
    server, counter, _ = served

    async def main():
        async with AsyncSmartLibrary(server.address, timeout=60, admin_token=ADMIN_TOKEN) as lib:
            books = [{"title": "The Async Cartographer", "authors": ["Ines Varela"], "genres": ["Fantasy"],
                      "description": "A mapmaker charts islands that only exist while someone awaits them."}]
            first = await lib.upsert(books)
            again = await lib.upsert(pd.DataFrame(books))
            book_id = first.iloc[0]["id"]
            stored = await lib.book(book_id)
            recs = await lib.for_user("async-reader", k=3)
            rejected = await lib.record([
                {"user_id": "async-reader", "book_id": book_id, "kind": "like"},
                {"user_id": "async-reader", "book_id": "gr-999999999999", "kind": "click"},
            ])
            removed = await lib.forget_user("async-reader")
            await lib.delete(book_id)
            with pytest.raises(NotFound):
                await lib.book(book_id)
            async with lib.chat(user_id="async-reader") as chat:
                assert isinstance(chat, AsyncChat)
                kinds = [event.kind async for event in chat.say("Books like The Hobbit")]
                reply = await chat.ask("something like Dune")
            return first, again, stored, recs, rejected, removed, kinds, reply

    first, again, stored, recs, rejected, removed, kinds, reply = _run(main())
    assert first.attrs["created"] == 1 and again.attrs["unchanged"] == 1 and list(again["id"]) == list(first["id"])
    assert stored["title"] == "The Async Cartographer"
    assert len(recs) == 3 and recs.attrs["recommendation_id"]
    assert rejected.attrs["accepted"] == 1 and list(rejected["index"]) == [1]
    assert removed["interactions"] == 1
    assert kinds[0] == "typing" and kinds[-1] == "done" and "card" in kinds
    assert reply.text and len(reply.cards) > 0 and reply.turn_id
    methods = counter.methods
    assert methods.count("UpsertBooks") == 2 and methods.count("DeleteBook") == 1 and methods.count("Converse") == 1


def test_admin_helpers_use_the_admin_token(served):
    server, _, versions = served

    async def main():
        async with AsyncSmartLibrary(server.address, timeout=60, admin_token=ADMIN_TOKEN) as lib:
            stats = await lib.stats()
            listed = await lib.versions("encoder")
            activated = await lib.activate(versions[1])
            back = await lib.rollback()
            with pytest.raises(NotFound):  # an encoder version is no knowledge base
                await lib.activate(versions[1], kind="knowledge_base")
            with pytest.raises(ValueError):
                await lib.versions("weights")
        async with AsyncSmartLibrary(server.address, timeout=10) as anonymous:
            with pytest.raises(Unauthenticated):
                await anonymous.stats()
        async with AsyncSmartLibrary(server.address, timeout=10, admin_token="x" * 40) as wrong:
            with pytest.raises(PermissionDenied):
                await wrong.versions()
        return stats, listed, activated, back

    stats, listed, activated, back = _run(main())
    with SmartLibrary(server.address, timeout=60, admin_token=ADMIN_TOKEN) as sync:  # the same helpers, blocking
        assert sync.stats()["books"] == stats["books"]
        pd.testing.assert_frame_equal(sync.versions("encoder"), listed)
        assert sync.activate(versions[1])["previous_version"] == versions[0]
        assert sync.rollback()["active"]["version"] == versions[0]
    with SmartLibrary(server.address, timeout=10) as anonymous, pytest.raises(Unauthenticated):
        anonymous.stats()
    assert stats["books"] == len(server.services.index.books) and stats["index_sizes"]["baseline"] == stats["books"]
    assert stats["active_versions"]["encoder"] == versions[0]
    assert list(listed.columns) == ["kind", "version", "created_at", "active", "metrics"]
    assert set(listed["version"]) >= set(versions) and set(listed["kind"]) == {"encoder"}
    assert listed.loc[listed["active"], "version"].tolist() == [versions[0]]
    assert activated["active"]["version"] == versions[1] and activated["previous_version"] == versions[0]
    assert back["active"]["version"] == versions[0] and back["previous_version"] == versions[1]
    assert server.services.index.finetuned.version == versions[0]
