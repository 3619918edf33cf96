"""Protobuf <-> domain conversion. Only api/ imports the generated smartlib.v1 modules."""
from __future__ import annotations

from smartlib.v1 import books_pb2
from smartlib_core.domain import Approach, Book, BookFilter
from smartlib_core.errors import InvalidArgument

_APPROACHES = {
    books_pb2.APPROACH_UNSPECIFIED: None,
    books_pb2.APPROACH_BASELINE: Approach.BASELINE,
    books_pb2.APPROACH_FINETUNED: Approach.FINETUNED,
}
_APPROACH_PB = {Approach.BASELINE: books_pb2.APPROACH_BASELINE, Approach.FINETUNED: books_pb2.APPROACH_FINETUNED}


def book_to_pb(book: Book) -> books_pb2.Book:
    pb = books_pb2.Book(
        id=book.id, title=book.title, authors=book.authors, description=book.description,
        genres=book.genres, characters=book.characters, avg_rating=book.avg_rating,
        num_ratings=book.num_ratings, url=book.url, list_rank=book.list_rank + 1 if book.list_rank >= 0 else 0,
    )
    if book.series_name:
        pb.series.name = book.series_name
        pb.series.position = book.series_position
    return pb


def book_from_pb(pb: books_pb2.Book) -> Book:
    return Book(
        id=pb.id, title=pb.title, authors=tuple(pb.authors), description=pb.description,
        genres=tuple(pb.genres), characters=tuple(pb.characters), avg_rating=pb.avg_rating,
        num_ratings=pb.num_ratings, url=pb.url, series_name=pb.series.name,
        series_position=pb.series.position, list_rank=pb.list_rank - 1 if pb.list_rank > 0 else -1,
    )


def approach_from_pb(value: int, field: str = "approach") -> Approach | None:
    if value not in _APPROACHES:
        raise InvalidArgument.field(field, f"unknown approach {value}; use APPROACH_BASELINE or APPROACH_FINETUNED")
    return _APPROACHES[value]


def approach_to_pb(approach: Approach) -> int:
    return _APPROACH_PB[approach]


def filter_from_pb(pb: books_pb2.BookFilter, field: str = "filter") -> BookFilter:
    rating = pb.min_avg_rating
    if rating != rating or not 0 <= rating <= 5:
        raise InvalidArgument.field(f"{field}.min_avg_rating", "must be between 0 and 5")
    include, exclude, ids = pb.include_genres, pb.exclude_genres, pb.exclude_ids
    for name, values in (("include_genres", include), ("exclude_genres", exclude), ("exclude_ids", ids)):
        if len(values) > 1000:
            raise InvalidArgument.field(f"{field}.{name}", "at most 1000 entries")
    return BookFilter(include_genres=_genres(include), exclude_genres=_genres(exclude), min_avg_rating=rating,
                      exclude_ids=frozenset(ids))


def _genres(values) -> frozenset[str]:
    # Most requests name no genre: the shared empty set, without a generator per call.
    return frozenset(g.strip().lower() for g in values if g.strip()) if values else _NO_GENRES


_NO_GENRES: frozenset[str] = frozenset()
