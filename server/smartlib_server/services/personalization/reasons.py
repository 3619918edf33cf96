"""The words of RecommendForUser's explanations, shared by both rankings ("because you liked Dune")."""
from __future__ import annotations

from collections.abc import Sequence

from smartlib_core.domain import Book
from smartlib_core.text import split_series
from smartlib_server.domain.personalization import Interaction, InteractionKind


def verb(book_id: str, history: Sequence[Interaction]) -> str:
    kinds = {e.kind for e in history if e.book_id == book_id}
    if InteractionKind.LIKE in kinds or InteractionKind.RATE in kinds:
        return "liked"
    return "read" if InteractionKind.READ in kinds else "showed interest in"


def title(book: Book | None) -> str:
    return split_series(book.title)[0] if book else "a book you liked"
