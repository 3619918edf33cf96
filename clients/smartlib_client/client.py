"""SmartLibrary: the friendly, synchronous client. Results come back as pandas DataFrames."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import grpc
import pandas as pd

from smartlib.v1 import (
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    chat_service_pb2_grpc,
    interaction_service_pb2,
    interaction_service_pb2_grpc,
    recommend_service_pb2,
    recommend_service_pb2_grpc,
)
from smartlib_client.chat import Chat
from smartlib_client.connection import TLS, auth_metadata, make_channel
from smartlib_client.errors import NotFound, from_rpc_error
from smartlib_client.frames import (
    approach_value,
    book_filter,
    book_to_dict,
    books_frame,
    dict_to_book,
    dict_to_interaction,
    recommend_frame,
    records,
)

# Book ids are "gr-<goodreads id>" or "sl-<hash>"; anything else is treated as a title.
_BOOK_ID = re.compile(r"^(gr|sl)-[0-9A-Za-z]+$")
UPSERT_BATCH = 1000  # the server's per-call limit
DEFAULT_TIMEOUT = 10.0


class SmartLibrary:
    """A connection to a Smart Library server.

    Args:
        address: "host:port" of the gRPC server.
        token: bearer token sent as `authorization: Bearer <token>` on every call.
        tls: None for plaintext, True for TLS with the system roots, or a `TLS` with a CA
            bundle and optionally a client certificate and key.
        timeout: default deadline in seconds for each unary call.
        max_attempts: attempts (first try included) that gRPC makes on UNAVAILABLE for
            idempotent methods; 1 disables retries.

    Example:
        >>> lib = SmartLibrary("localhost:50051")
        >>> lib.similar("The Hobbit", k=5)[["title", "score", "reason"]]
    """

    def __init__(
        self,
        address: str = "localhost:50051",
        token: str | None = None,
        tls: TLS | bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
    ):
        self.address = address
        self.timeout = timeout
        self._metadata = auth_metadata(token)
        self._channel = make_channel(address, tls=tls, max_attempts=max_attempts)
        self._catalog = catalog_service_pb2_grpc.CatalogServiceStub(self._channel)
        self._recommend = recommend_service_pb2_grpc.RecommendServiceStub(self._channel)
        self._interactions = interaction_service_pb2_grpc.InteractionServiceStub(self._channel)
        self._chat = chat_service_pb2_grpc.ChatServiceStub(self._channel)

    def _call(self, method, request, timeout: float | None):
        try:
            return method(request, timeout=self.timeout if timeout is None else timeout, metadata=self._metadata)
        except grpc.RpcError as err:
            raise from_rpc_error(err) from None

    # --- catalog ---

    def book(self, book_id: str, timeout: float | None = None) -> dict[str, Any]:
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
        return book_to_dict(self._call(self._catalog.GetBook, catalog_service_pb2.GetBookRequest(id=book_id), timeout))

    def find(self, title: str, limit: int = 10, timeout: float | None = None) -> pd.DataFrame:
        """Looks books up by title or author, tolerating case, accents, series suffixes and typos.

        Args:
            title: e.g. "the hobit" or "tolkien".
            limit: maximum results, 1 to 100.
            timeout: deadline in seconds.

        Returns:
            A DataFrame of books, best match first (empty when nothing matches).

        Raises:
            InvalidArgument: empty or over-long text, or a bad limit.
        """
        request = catalog_service_pb2.SearchBooksRequest(query=title, limit=limit)
        return books_frame(self._call(self._catalog.SearchBooks, request, timeout).books)

    def list_books(self, page_size: int = 500, timeout: float | None = None) -> pd.DataFrame:
        """The whole catalog, paged through ListBooks.

        Args:
            page_size: books per page, 1 to 500.
            timeout: deadline in seconds for each page.

        Returns:
            A DataFrame of every book, ordered by id.

        Raises:
            SmartLibError: a page failed.
        """
        books, token = [], ""
        while True:
            request = catalog_service_pb2.ListBooksRequest(page_size=page_size, page_token=token)
            page = self._call(self._catalog.ListBooks, request, timeout)
            books.extend(page.books)
            token = page.next_page_token
            if not token:
                return books_frame(books)

    def upsert(self, books: pd.DataFrame | Iterable[dict[str, Any]] | dict[str, Any], timeout: float | None = None) -> pd.DataFrame:
        """Inserts or updates books, in batches of up to 1000.

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
            batch = [dict_to_book(row) for row in rows[start : start + UPSERT_BATCH]]
            reply = self._call(self._catalog.UpsertBooks, catalog_service_pb2.UpsertBooksRequest(books=batch), timeout)
            ids.extend(reply.ids)
            for key in totals:
                totals[key] += getattr(reply, key)
        frame = pd.DataFrame({"title": [str(r.get("title", "")) for r in rows], "id": ids})
        frame.attrs.update(totals)
        return frame

    def delete(self, book_id: str, timeout: float | None = None) -> None:
        """Removes a book.

        Args:
            book_id: the id to delete.
            timeout: deadline in seconds.

        Raises:
            NotFound: no book has that id.
        """
        self._call(self._catalog.DeleteBook, catalog_service_pb2.DeleteBookRequest(id=book_id), timeout)

    def resolve(self, title_or_id: str, timeout: float | None = None) -> str:
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
        matches = self.find(title_or_id, limit=1, timeout=timeout)
        if matches.empty:
            raise NotFound(f"no book matches {title_or_id!r}")
        return str(matches.iloc[0]["id"])

    # --- recommendations ---

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
    ) -> pd.DataFrame:
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

        Returns:
            A DataFrame ranked best first (rank, id, title, authors, main_genre, genres,
            avg_rating, num_ratings, score, reason); `.attrs` holds approach and model_version.

        Raises:
            NotFound: the title matches nothing, or the id is unknown.
            InvalidArgument: k or the filter is out of range.
            FailedPrecondition: "finetuned" was asked for and no encoder is active.
        """
        request = recommend_service_pb2.SimilarBooksRequest(
            book_id=self.resolve(title_or_id, timeout),
            k=k,
            approach=approach_value(approach),
            filter=book_filter(include_genres, exclude_genres, min_avg_rating, exclude_ids),
        )
        return recommend_frame(self._call(self._recommend.SimilarBooks, request, timeout))

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
    ) -> pd.DataFrame:
        """Books that match a free-text description (semantic search).

        Args:
            text: e.g. "space opera about galactic empires", 1 to 512 characters.
            k: number of results, 1 to 100.
            approach: "baseline", "finetuned", or None to let the server choose.
            include_genres, exclude_genres, min_avg_rating, exclude_ids: result filter, as in `similar`.
            timeout: deadline in seconds.

        Returns:
            A DataFrame ranked best first, with the same columns and attrs as `similar`.

        Raises:
            InvalidArgument: empty or over-long text, or k out of range.
        """
        request = recommend_service_pb2.SearchByTextRequest(
            query=text,
            k=k,
            approach=approach_value(approach),
            filter=book_filter(include_genres, exclude_genres, min_avg_rating, exclude_ids),
        )
        return recommend_frame(self._call(self._recommend.SearchByText, request, timeout))

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
    ) -> pd.DataFrame:
        """Personal recommendations for a user (content, collaborative filtering, popularity).

        Args:
            user_id: the user.
            k: number of results, 1 to 100.
            include_genres, exclude_genres, min_avg_rating, exclude_ids: result filter.
            timeout: deadline in seconds.

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
        return recommend_frame(self._call(self._recommend.RecommendForUser, request, timeout))

    def record(self, interactions: pd.DataFrame | Iterable[dict[str, Any]] | dict[str, Any], timeout: float | None = None) -> pd.DataFrame:
        """Stores what users did with books.

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
        reply = self._call(self._interactions.RecordInteractions, request, timeout)
        rejected = pd.DataFrame(
            [{"index": r.index, "field": r.field, "description": r.description} for r in reply.rejected],
            columns=["index", "field", "description"],
        )
        rejected.attrs["accepted"] = reply.accepted
        return rejected

    def forget_user(self, user_id: str, timeout: float | None = None) -> dict[str, int]:
        """Erases everything the server keeps about one user (needs the admin token).

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
        reply = self._call(self._interactions.ForgetUser, interaction_service_pb2.ForgetUserRequest(user_id=user_id), timeout)
        return {field.name: getattr(reply, field.name) for field in reply.DESCRIPTOR.fields}

    # --- chat ---

    def chat(self, session_id: str | None = None, user_id: str = "", language: str = "", timeout: float | None = None) -> Chat:
        """Opens a conversation with the Smart Library Agent.

        Args:
            session_id: conversation id; reuse it to continue a conversation, random when None.
            user_id: optional stable user id; the agent remembers the user's tastes across sessions.
            language: "en", "pt", or "" to detect it from each message.
            timeout: deadline for the whole stream in seconds; None for no deadline.

        Returns:
            A Chat: `with lib.chat() as c: reply = c.ask("Books like The Hobbit")`, or
            `for event in c.say(...)` to stream typing, text deltas and book cards.

        Raises:
            SmartLibError: raised while reading events if the stream fails.
        """
        return Chat(self._chat, session_id, user_id, language, self._metadata, timeout)

    # --- lifecycle ---

    def close(self) -> None:
        """Closes the channel; the client cannot be used afterwards."""
        self._channel.close()

    def __enter__(self) -> "SmartLibrary":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SmartLibrary({self.address!r})"
