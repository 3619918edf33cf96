"""The words of RecommendForUser's explanations, shared by both rankings ("because you liked Dune")."""
from __future__ import annotations

from collections.abc import Sequence

from smartlib_core.domain import Book
from smartlib_core.text import split_series
from smartlib_server.domain.personalization import Interaction, InteractionKind


def verb(book_id: str, history: Sequence[Interaction]) -> str:
    return verbs(history).get(book_id, INTERESTED)


def verbs(history: Sequence[Interaction]) -> dict[str, str]:
    """Book -> what the user did with it, in one pass over the history (a list's reasons ask it
    for up to k books)."""
    kinds: dict[str, set[InteractionKind]] = {}
    for event in history:
        kinds.setdefault(event.book_id, set()).add(event.kind)
    return {book: "liked" if InteractionKind.LIKE in done or InteractionKind.RATE in done
            else "read" if InteractionKind.READ in done else INTERESTED for book, done in kinds.items()}


INTERESTED = "showed interest in"  # the verb of a click or a view alone


def title(book: Book | None) -> str:
    return split_series(book.title)[0] if book else "a book you liked"
