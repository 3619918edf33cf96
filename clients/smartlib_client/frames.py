"""Conversions between the API's messages and plain Python / pandas values, shared by the
synchronous and the asyncio client. A table comes back as a DataFrame, or on request
(`as_records=True`) as `Records`: a list of dicts carrying the same `.attrs`."""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from smartlib.v1 import books_pb2, interaction_service_pb2

BOOK_COLUMNS = [
    "id", "title", "authors", "main_genre", "genres", "avg_rating", "num_ratings",
    "series", "series_position", "description", "characters", "url",
]
RECOMMEND_COLUMNS = ["rank", "id", "title", "authors", "main_genre", "genres", "avg_rating", "num_ratings", "score", "reason"]

_APPROACHES = {
    None: books_pb2.APPROACH_UNSPECIFIED,
    "": books_pb2.APPROACH_UNSPECIFIED,
    "auto": books_pb2.APPROACH_UNSPECIFIED,
    "unspecified": books_pb2.APPROACH_UNSPECIFIED,
    "baseline": books_pb2.APPROACH_BASELINE,
    "finetuned": books_pb2.APPROACH_FINETUNED,
    "fine-tuned": books_pb2.APPROACH_FINETUNED,
}


def approach_value(approach: str | int | None) -> int:
    """"baseline", "finetuned", None/"auto" or an Approach enum value -> the enum value."""
    if isinstance(approach, int):
        return approach
    key = approach.lower().removeprefix("approach_") if isinstance(approach, str) else approach
    if key not in _APPROACHES:
        raise ValueError(f"unknown approach {approach!r}; use 'baseline', 'finetuned' or None")
    return _APPROACHES[key]


def approach_name(value: int) -> str:
    return books_pb2.Approach.Name(value).removeprefix("APPROACH_").lower()


def interaction_kind(kind: str | int) -> int:
    """"like", "INTERACTION_KIND_LIKE" or the enum value -> the enum value."""
    if isinstance(kind, int):
        return kind
    name = kind.upper()
    if not name.startswith("INTERACTION_KIND_"):
        name = "INTERACTION_KIND_" + name
    try:
        return interaction_service_pb2.InteractionKind.Value(name)
    except ValueError:
        raise ValueError(f"unknown interaction kind {kind!r}") from None


def book_filter(
    include_genres: Iterable[str] = (),
    exclude_genres: Iterable[str] = (),
    min_avg_rating: float = 0.0,
    exclude_ids: Iterable[str] = (),
) -> books_pb2.BookFilter:
    return books_pb2.BookFilter(
        include_genres=list(include_genres),
        exclude_genres=list(exclude_genres),
        min_avg_rating=min_avg_rating,
        exclude_ids=list(exclude_ids),
    )


class Records(list):
    """A list of row dicts with the `.attrs` a DataFrame would carry (approach, model_version, ...)."""

    def __init__(self, rows: Iterable[dict[str, Any]] = (), attrs: Mapping[str, Any] | None = None):
        super().__init__(rows)
        self.attrs: dict[str, Any] = dict(attrs or {})


Table = pd.DataFrame | Records


def table(rows: list[dict[str, Any]], columns: list[str], attrs: Mapping[str, Any] | None = None,
          as_records: bool = False) -> Table:
    """Rows as a DataFrame with `columns`, or as Records; either way with `attrs`."""
    if as_records:
        return Records(rows, attrs)
    frame = pd.DataFrame(rows, columns=columns)
    frame.attrs.update(attrs or {})
    return frame


def book_to_dict(book: books_pb2.Book) -> dict[str, Any]:
    return {
        "id": book.id,
        "title": book.title,
        "authors": list(book.authors),
        "main_genre": book.genres[0] if book.genres else "",
        "genres": list(book.genres),
        "avg_rating": book.avg_rating,
        "num_ratings": book.num_ratings,
        "series": book.series.name if book.HasField("series") else "",
        "series_position": book.series.position if book.HasField("series") else "",
        "description": book.description,
        "characters": list(book.characters),
        "url": book.url,
    }


def books_frame(books: Iterable[books_pb2.Book], as_records: bool = False) -> Table:
    return table([book_to_dict(b) for b in books], BOOK_COLUMNS, as_records=as_records)


def recommend_frame(response, as_records: bool = False) -> Table:
    """One row per item; approach, model_version, arm and recommendation_id go to `.attrs`."""
    rows = []
    for rank, item in enumerate(response.items, start=1):
        book = book_to_dict(item.book)
        rows.append({**{k: book[k] for k in RECOMMEND_COLUMNS if k in book}, "rank": rank, "score": item.score, "reason": item.reason})
    attrs = dict(approach=approach_name(response.approach), model_version=response.model_version, arm=response.arm,
                 recommendation_id=response.recommendation_id)
    return table(rows, RECOMMEND_COLUMNS, attrs, as_records)


def message_dict(message) -> dict[str, Any]:
    """A reply's fields as plain values: maps become dicts, timestamps datetimes, enums their names."""
    out: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        value = getattr(message, field.name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            out[field.name] = dict(value)
        elif field.message_type is not None and field.message_type.full_name == "google.protobuf.Timestamp":
            out[field.name] = value.ToDatetime(tzinfo=timezone.utc) if message.HasField(field.name) else None
        elif field.message_type is not None:
            out[field.name] = message_dict(value) if message.HasField(field.name) else None
        elif field.enum_type is not None:
            out[field.name] = field.enum_type.values_by_number[value].name if value in field.enum_type.values_by_number else value
        else:
            out[field.name] = value
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _strings(value: Any) -> list[str]:
    if _missing(value):
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value]


def dict_to_book(record: Mapping[str, Any]) -> books_pb2.Book:
    """A Book from a dict with the BOOK_COLUMNS keys; `author` is accepted for one author."""
    get = {k: v for k, v in record.items() if not _missing(v)}
    book = books_pb2.Book(
        id=str(get.get("id", "")),
        title=str(get.get("title", "")),
        authors=_strings(get.get("authors", get.get("author"))),
        description=str(get.get("description", "")),
        genres=_strings(get.get("genres")),
        characters=_strings(get.get("characters")),
        avg_rating=float(get.get("avg_rating", 0.0)),
        num_ratings=int(get.get("num_ratings", 0)),
        url=str(get.get("url", "")),
    )
    if get.get("series"):
        book.series.name = str(get["series"])
        book.series.position = str(get.get("series_position", ""))
    return book


def records(data: Any) -> list[dict[str, Any]]:
    """A DataFrame, a single dict or an iterable of dicts -> a list of dicts."""
    if isinstance(data, pd.DataFrame):
        return data.to_dict(orient="records")
    if isinstance(data, Mapping):
        return [dict(data)]
    return [dict(item) for item in data]


def dict_to_interaction(record: Mapping[str, Any]) -> interaction_service_pb2.Interaction:
    """An Interaction from {user_id, book_id, kind, rating?, timestamp?, recommendation_id?}."""
    get = {k: v for k, v in record.items() if not _missing(v)}
    interaction = interaction_service_pb2.Interaction(
        user_id=str(get.get("user_id", "")),
        book_id=str(get.get("book_id", "")),
        kind=interaction_kind(get.get("kind", 0)),
        rating=int(get.get("rating", 0)),
        recommendation_id=str(get.get("recommendation_id", "")),
    )
    when = get.get("timestamp")
    if when is not None:
        if isinstance(when, (int, float)):
            when = datetime.fromtimestamp(when, tz=timezone.utc)
        elif isinstance(when, pd.Timestamp):
            when = when.to_pydatetime()
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        interaction.timestamp.FromDatetime(when)
    return interaction
