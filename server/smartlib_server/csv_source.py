"""Reads the Kaggle "Best Books 10k Multi-Genre Data" CSV schema into Book records.

Bad rows are reported with their line number and skipped; nothing here touches storage.
"""
from __future__ import annotations

import ast
import csv
import dataclasses
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from smartlib_core.domain import Book
from smartlib_core.text import dedupe_key, derived_id, goodreads_id, split_series

REQUIRED_COLUMNS = ("Book", "Author")
csv.field_size_limit(16 * 1024 * 1024)


@dataclasses.dataclass(frozen=True)
class RowError:
    line: int
    reason: str


@dataclasses.dataclass(frozen=True)
class ParsedRow:
    line: int
    book: Book


def read_rows(stream: TextIO) -> Iterator[ParsedRow | RowError]:
    """Yields one ParsedRow or RowError per data row; `line` is the row's first physical line."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        return
    columns = {name.strip(): i for i, name in enumerate(header) if name.strip()}
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise ValueError(f"not a Goodreads books CSV: missing column(s) {', '.join(missing)}")
    rank_column = 0 if header and not header[0].strip() else None
    line = reader.line_num + 1
    for values in reader:
        start = line
        line = reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        try:
            yield ParsedRow(start, _row_book(values, columns, rank_column))
        except ValueError as exc:
            yield RowError(start, str(exc))


def _row_book(values: list[str], columns: dict[str, int], rank_column: int | None) -> Book:
    def get(name: str) -> str:
        i = columns.get(name)
        return values[i].strip() if i is not None and i < len(values) else ""

    title, author = get("Book"), get("Author")
    if not title:
        raise ValueError("empty Book (title)")
    if not author:
        raise ValueError("empty Author")
    authors = tuple(a.strip() for a in author.split(",") if a.strip()) if "," in author else (author,)
    url = get("URL")
    _, series_name, series_position = split_series(title)
    rank = -1
    if rank_column is not None and values[rank_column].strip():
        rank = _parse_int(values[rank_column], "list position")
    return Book(
        id=goodreads_id(url) or derived_id(title, authors[0]),
        title=title,
        authors=authors,
        description=get("Description"),
        genres=_parse_list(get("Genres"), "Genres", literal=True),
        characters=_parse_list(get("Characters"), "Characters", literal=False),
        avg_rating=_parse_rating(get("Avg_Rating")),
        num_ratings=_parse_int(get("Num_Ratings"), "Num_Ratings") if get("Num_Ratings") else 0,
        url=url,
        series_name=series_name,
        series_position=series_position,
        list_rank=rank,
    )


def _parse_list(raw: str, column: str, literal: bool) -> tuple[str, ...]:
    """Genres are a Python-list literal, Characters a JSON list; both are parsed without eval."""
    if not raw:
        return ()
    try:
        value = ast.literal_eval(raw) if literal else json.loads(raw)
    except (ValueError, SyntaxError, json.JSONDecodeError):
        try:  # tolerate the other quoting style
            value = json.loads(raw) if literal else ast.literal_eval(raw)
        except (ValueError, SyntaxError, json.JSONDecodeError):
            raise ValueError(f"{column} is not a list: {raw[:60]!r}") from None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{column} must be a list of strings")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def _parse_rating(raw: str) -> float:
    if not raw:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"Avg_Rating {raw!r} is not a number") from None
    if math.isnan(value) or not 0 <= value <= 5:
        raise ValueError(f"Avg_Rating {raw!r} is outside 0..5")
    return value


def _parse_int(raw: str, column: str) -> int:
    cleaned = raw.strip().replace(",", "").replace("_", "")
    try:
        value = int(float(cleaned)) if "." in cleaned else int(cleaned)
    except ValueError:
        raise ValueError(f"{column} {raw!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{column} {raw!r} is negative")
    return value


def merge_editions(first: Book, other: Book) -> Book:
    """Keeps the first edition's identity and fills its empty fields from another edition."""
    updates = {}
    for field in ("description", "genres", "characters", "url", "series_name", "series_position"):
        if not getattr(first, field) and getattr(other, field):
            updates[field] = getattr(other, field)
    if not first.avg_rating and other.avg_rating:
        updates["avg_rating"] = other.avg_rating
    if other.num_ratings > first.num_ratings:
        updates["num_ratings"] = other.num_ratings
    return dataclasses.replace(first, **updates) if updates else first


def load_file(path: Path) -> tuple[list[tuple[int, Book]], list[RowError], int, int]:
    """Parses a whole file and merges editions. Returns (books with first line, errors, rows read, merged)."""
    books: dict[str, tuple[int, Book]] = {}
    errors: list[RowError] = []
    read = merged = 0
    with path.open(encoding="utf-8-sig", newline="") as stream:
        for item in read_rows(stream):
            read += 1
            if isinstance(item, RowError):
                errors.append(item)
                continue
            key = dedupe_key(item.book.title, item.book.authors[0])
            if key in books:
                line, first = books[key]
                books[key] = (line, merge_editions(first, item.book))
                merged += 1
            else:
                books[key] = (item.line, item.book)
    return list(books.values()), errors, read, merged
