"""Every catalog, recommendation and interaction method SmartLibrary and AsyncSmartLibrary
share, written once as a plan (_plans.py); readiness and admin helpers are in admin.py.

Each plan builds its request, yields the call, and converts the reply; `_rpc` (in _base.py) adds
the retries of idempotent methods. The two clients differ only in how they run the plans.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Generic, TypeVar

import pandas as pd

from smartlib.v1 import catalog_service_pb2, interaction_service_pb2, recommend_service_pb2
from smartlib_client._base import CATALOG, CHAT, DEFAULT_TIMEOUT, INTERACTION, RECOMMEND
from smartlib_client._plans import Plan, Plans, operation, stream_operation
from smartlib_client.admin import AdminOperations
from smartlib_client.errors import NotFound
from smartlib_client.frames import (
    Table,
    approach_value,
    book_filter,
    book_to_dict,
    books_frame,
    dict_to_book,
    dict_to_interaction,
    recommend_frame,
    records,
    table,
)

# Book ids are "gr-<goodreads id>" or "sl-<hash>"; anything else is treated as a title.
_BOOK_ID = re.compile(r"^(gr|sl)-[0-9A-Za-z]+$")
UPSERT_BATCH = 1000  # the server's per-call limit


ChatT = TypeVar("ChatT")


class LibraryOperations(AdminOperations, Generic[ChatT]):
    """Every method both clients offer; ChatT is the conversation type chat() opens."""

    _chat_type: type

    def chat(self, session_id: str | None = None, user_id: str = "", language: str = "", timeout: float | None = None) -> ChatT:
        """Opens a conversation with the Smart Library Agent.

        Args:
            session_id: conversation id; reuse it to continue a conversation, random when None.
            user_id: optional stable user id; the agent remembers the user's tastes across sessions
                (a write: on a public server it needs a token).
            language: "en", "pt", or "" to detect it from each message.
            timeout: deadline for the whole stream in seconds; None for no deadline.

        Returns:
            A Chat (an AsyncChat on AsyncSmartLibrary): `with lib.chat() as c: c.ask("Books like
            The Hobbit")`, or `for event in c.say(...)` to stream typing, text deltas and book cards.

        Raises:
            SmartLibError: raised while reading events if the stream fails.
        """
        return self._chat_type(self._stubs[CHAT], session_id, user_id, language, self._auth, timeout)

    # --- catalog ---

    @operation
    def book(self, book_id: str, timeout: float | None = None) -> Plan[dict[str, Any]]:
        """One book by id.

        Args:
            book_id: a book id such as "gr-5907".
            timeout: deadline in seconds; the client default when None.

        Returns:
            The book as a dict with the BOOK_COLUMNS keys.

        Raises:
            NotFound: no book has that id.
            SmartLibError: any other failure, as its typed subclass.
        """
        return book_to_dict((yield from self._rpc(CATALOG, "GetBook", catalog_service_pb2.GetBookRequest(id=book_id), timeout)))

    def _find(self, title: str, limit: int = 10, timeout: float | None = None, *, as_records: bool = False) -> Plan[Table]:
        """Looks books up by title or author, tolerating case, accents, series suffixes and typos.

        Args:
            title: e.g. "the hobit" or "tolkien".
            limit: maximum results, 1 to 100.
            timeout: deadline in seconds.
            as_records: a list of dicts (Records) instead of a DataFrame.

        Returns:
            A DataFrame of books, best match first (empty when nothing matches).

        Raises:
            InvalidArgument: empty or over-long text, or a bad limit.
        """
        request = catalog_service_pb2.SearchBooksRequest(query=title, limit=limit)
        return books_frame((yield from self._rpc(CATALOG, "SearchBooks", request, timeout)).books, as_records)

    find = operation(_find)

    def _page(self, page_size: int, token: str, timeout: float | None) -> Plan[Any]:
        request = catalog_service_pb2.ListBooksRequest(page_size=page_size, page_token=token)
        return (yield from self._rpc(CATALOG, "ListBooks", request, timeout))

    @stream_operation
    def page_iter(self, page_size: int = 500, timeout: float | None = None, *, as_records: bool = False) -> Plans[Table]:
        """The catalog one ListBooks page at a time, fetched only as the iteration reaches it.

        Args:
            page_size: books per page, 1 to 500.
            timeout: deadline in seconds for each page.
            as_records: each page as Records instead of a DataFrame.

        Returns:
            An iterator (an async iterator on AsyncSmartLibrary) of pages ordered by id; the last
            page may be short or empty.

        Raises:
            SmartLibError: a page failed (raised when the iteration reaches it).
        """
        token = ""

        def page() -> Plan[Table]:
            nonlocal token
            reply = yield from self._page(page_size, token, timeout)
            token = reply.next_page_token
            return books_frame(reply.books, as_records)

        yield page()  # the driver runs each page before asking for the next
        while token:
            yield page()

    @operation
    def list_books(self, page_size: int = 500, timeout: float | None = None, *, as_records: bool = False) -> Plan[Table]:
        """The whole catalog, paged through ListBooks; `page_iter` gives it a page at a time.

        Args:
            page_size: books per page, 1 to 500.
            timeout: deadline in seconds for each page.
            as_records: Records instead of a DataFrame.

        Returns:
            A DataFrame of every book, ordered by id.

        Raises:
            SmartLibError: a page failed.
        """
        books, token = [], ""
        while True:
            page = yield from self._page(page_size, token, timeout)
            books.extend(page.books)
            token = page.next_page_token
            if not token:
                return books_frame(books, as_records)

    @operation
    def upsert(self, books: pd.DataFrame | Iterable[dict[str, Any]] | dict[str, Any], timeout: float | None = None) -> Plan[pd.DataFrame]:
        """Inserts or updates books, in batches of up to 1000 (never retried).

        Args:
            books: a DataFrame or dicts with the BOOK_COLUMNS keys (title and authors required;
                `author` is accepted for a single author).
            timeout: deadline in seconds for each batch.

        Returns:
            A DataFrame with one row per input book: `title` and the stored `id`; the created,
            updated and unchanged counts are in `.attrs`.

        Raises:
            InvalidArgument: a book is invalid; `violations` names its fields (nothing in that
                batch is written).
        """
        rows = records(books)
        ids: list[str] = []
        totals = {"created": 0, "updated": 0, "unchanged": 0}
        for start in range(0, len(rows), UPSERT_BATCH):
            request = catalog_service_pb2.UpsertBooksRequest(books=[dict_to_book(row) for row in rows[start : start + UPSERT_BATCH]])
            reply = yield from self._rpc(CATALOG, "UpsertBooks", request, timeout)
            ids.extend(reply.ids)
            for key in totals:
                totals[key] += getattr(reply, key)
        return table([{"title": str(r.get("title", "")), "id": i} for r, i in zip(rows, ids, strict=True)], ["title", "id"], totals)

    @operation
    def delete(self, book_id: str, timeout: float | None = None) -> Plan[None]:
        """Removes a book (never retried).

        Args:
            book_id: the id to delete.
            timeout: deadline in seconds.

        Raises:
            NotFound: no book has that id.
        """
        yield from self._rpc(CATALOG, "DeleteBook", catalog_service_pb2.DeleteBookRequest(id=book_id), timeout)

    def _resolve(self, title_or_id: str, timeout: float | None = None) -> Plan[str]:
        """The book id for an id or a title.

        Args:
            title_or_id: "gr-5907" is returned as is; anything else is looked up with `find`.
            timeout: deadline in seconds.

        Returns:
            The id of the best match.

        Raises:
            NotFound: nothing matches the title.
        """
        if _BOOK_ID.match(title_or_id):
            return title_or_id
        matches = yield from self._find(title_or_id, limit=1, timeout=timeout, as_records=True)
        if not matches:
            raise NotFound(f"no book matches {title_or_id!r}")
        return str(matches[0]["id"])

    resolve = operation(_resolve)

    # --- recommendations ---

    @operation
    def similar(
        self,
        title_or_id: str,
        k: int = 10,
        approach: str | int | None = None,
        *,
        include_genres: Iterable[str] = (),
        exclude_genres: Iterable[str] = (),
        min_avg_rating: float = 0.0,
        exclude_ids: Iterable[str] = (),
        timeout: float | None = None,
        as_records: bool = False,
    ) -> Plan[Table]:
        """Books similar to a book, given by id or by (approximate) title.

        Args:
            title_or_id: "The Hobbit" or "gr-5907".
            k: number of results, 1 to 100.
            approach: "baseline", "finetuned", or None to let the server choose.
            include_genres: keep only books with at least one of these genres.
            exclude_genres: drop books with any of these genres.
            min_avg_rating: drop books rated below this (0 disables).
            exclude_ids: never return these ids.
            timeout: deadline in seconds for each call.
            as_records: Records instead of a DataFrame.

        Returns:
            A DataFrame ranked best first (rank, id, title, authors, main_genre, genres,
            avg_rating, num_ratings, score, reason); `.attrs` holds approach and model_version.

        Raises:
            NotFound: the title matches nothing, or the id is unknown.
            InvalidArgument: k or the filter is out of range.
            FailedPrecondition: "finetuned" was asked for and no encoder is active.
        """
        request = recommend_service_pb2.SimilarBooksRequest(
            book_id=(yield from self._resolve(title_or_id, timeout)),
            k=k,
            approach=approach_value(approach),
            filter=book_filter(include_genres, exclude_genres, min_avg_rating, exclude_ids),
        )
        return recommend_frame((yield from self._rpc(RECOMMEND, "SimilarBooks", request, timeout)), as_records)

    @operation
    def search(
        self,
        text: str,
        k: int = 10,
        approach: str | int | None = None,
        *,
        include_genres: Iterable[str] = (),
        exclude_genres: Iterable[str] = (),
        min_avg_rating: float = 0.0,
        exclude_ids: Iterable[str] = (),
        timeout: float | None = None,
        as_records: bool = False,
    ) -> Plan[Table]:
        """Books that match a free-text description (semantic search).

        Args:
            text: e.g. "space opera about galactic empires", 1 to 512 characters.
            k: number of results, 1 to 100.
            approach: "baseline", "finetuned", or None to let the server choose.
            include_genres, exclude_genres, min_avg_rating, exclude_ids: result filter, as in `similar`.
            timeout: deadline in seconds.
            as_records: Records instead of a DataFrame.

        Returns:
            A DataFrame ranked best first, with the same columns and attrs as `similar`.

        Raises:
            InvalidArgument: empty or over-long text, or k out of range.
        """
        request = recommend_service_pb2.SearchByTextRequest(
            query=text, k=k, approach=approach_value(approach),
            filter=book_filter(include_genres, exclude_genres, min_avg_rating, exclude_ids),
        )
        return recommend_frame((yield from self._rpc(RECOMMEND, "SearchByText", request, timeout)), as_records)

    @operation
    def for_user(
        self,
        user_id: str,
        k: int = 10,
        *,
        include_genres: Iterable[str] = (),
        exclude_genres: Iterable[str] = (),
        min_avg_rating: float = 0.0,
        exclude_ids: Iterable[str] = (),
        timeout: float | None = None,
        as_records: bool = False,
    ) -> Plan[Table]:
        """Personal recommendations for a user (content, collaborative filtering, popularity).

        Not retried: each answer logs an experiment exposure.

        Args:
            user_id: the user.
            k: number of results, 1 to 100.
            include_genres, exclude_genres, min_avg_rating, exclude_ids: result filter.
            timeout: deadline in seconds.
            as_records: Records instead of a DataFrame.

        Returns:
            A DataFrame like `similar`'s; `.attrs` adds `arm` and `recommendation_id`, which
            `record(...)` accepts to link interactions to this response.

        Raises:
            InvalidArgument: bad user id or k.
            Unimplemented: the server has no personalisation yet.
        """
        request = recommend_service_pb2.RecommendForUserRequest(
            user_id=user_id, k=k, filter=book_filter(include_genres, exclude_genres, min_avg_rating, exclude_ids)
        )
        return recommend_frame((yield from self._rpc(RECOMMEND, "RecommendForUser", request, timeout)), as_records)

    @operation
    def record(self, interactions: pd.DataFrame | Iterable[dict[str, Any]] | dict[str, Any],
               timeout: float | None = None) -> Plan[pd.DataFrame]:
        """Stores what users did with books (never retried).

        Args:
            interactions: dicts (or DataFrame rows) with user_id, book_id, kind ("view",
                "click", "like", "dislike", "rate", "read", "dismiss"), and optionally rating
                (1-5, for "rate"), timestamp (datetime or epoch seconds) and recommendation_id.
            timeout: deadline in seconds.

        Returns:
            A DataFrame of the rejected items (index, field, description), empty when all
            were stored; `.attrs["accepted"]` is the number stored.

        Raises:
            ValueError: an unknown kind name (checked before sending).
            InvalidArgument: the batch as a whole is invalid (e.g. too large).
        """
        request = interaction_service_pb2.RecordInteractionsRequest(
            interactions=[dict_to_interaction(row) for row in records(interactions)]
        )
        reply = yield from self._rpc(INTERACTION, "RecordInteractions", request, timeout)
        rows = [{"index": r.index, "field": r.field, "description": r.description} for r in reply.rejected]
        return table(rows, ["index", "field", "description"], {"accepted": reply.accepted})

    @operation
    def forget_user(self, user_id: str, timeout: float | None = None) -> Plan[dict[str, int]]:
        """Erases everything the server keeps about one user (sends the admin token).

        Interactions, chat sessions and tastes, experiment exposures and the user's share of
        the collaborative-filtering model go, in every replica; the user is then served as a
        new one. Safe to repeat: an unknown user gives zero counts.

        Args:
            user_id: the id used in interactions, for_user and chat.
            timeout: deadline in seconds.

        Returns:
            What was removed: interactions, experiment_exposures, chat_sessions,
            chat_taste_entries and cf_preferences (those of the replica that answered).

        Raises:
            InvalidArgument: an empty or over-long user id.
            PermissionDenied: not the admin token (or, with none configured, not a local caller).
            Unavailable: conversation memory is unreachable; nothing was erased, retry.
        """
        request = interaction_service_pb2.ForgetUserRequest(user_id=user_id)
        reply = yield from self._rpc(INTERACTION, "ForgetUser", request, timeout, admin=True)
        return {field.name: getattr(reply, field.name) for field in reply.DESCRIPTOR.fields}


__all__ = ["LibraryOperations", "CHAT", "DEFAULT_TIMEOUT", "UPSERT_BATCH"]
