"""A series in reading order, from the catalog's series positions: what the series answers use,
and what a list starting from one book leads with (the book that comes after it)."""
from __future__ import annotations

import re

from smartlib_core.domain import Book
from smartlib_core.text import fold

_RANGE = re.compile(r"\d+\s*-\s*\d+")  # "Books 1-7", "#1-3": the positions a box set gathers


def number(book: Book) -> int:
    """The whole-number position of a main entry; -1 for novellas, box sets and unnumbered books."""
    position = book.series_position.strip()
    return int(position) if position.isdigit() else -1


def main_entries(books: list[Book]) -> list[Book]:
    """The numbered books of a series in order, leaving out novellas (#2.5) and box sets (#1-3)."""
    numbered = [b for b in books if number(b) >= 0]
    seen: set[int] = set()
    ordered = []
    for book in sorted(numbered, key=lambda b: (number(b), -b.num_ratings, b.list_rank)):
        if number(book) not in seen:  # two editions of one volume: the better known one
            seen.add(number(book))
            ordered.append(book)
    # A #0 prequel read less than #1 was most likely written later and is read after the main
    # run (The Ballad of Songbirds and Snakes); one read more is where readers start (The Hobbit).
    if len(ordered) > 1 and number(ordered[0]) == 0 and ordered[0].num_ratings < ordered[1].num_ratings:
        ordered = [*ordered[1:], ordered[0]]
    return ordered


def next_entry(series: list[Book], book: Book) -> Book | None:
    """The main entry read right after `book` in its series, or None (the last, or not a main entry)."""
    ordered = main_entries(series)
    ids = [b.id for b in ordered]
    if book.id not in ids or ids.index(book.id) + 1 >= len(ordered):
        return None
    return ordered[ids.index(book.id) + 1]


def gathered(book: Book, series_names: dict[str, str]) -> str:
    """The series a box set gathers ("The Dark Tower Series: Books 1-7", "Earthsea #1-3"): a book of
    no series whose title holds a range of positions and opens with a series' name (`series_names`:
    folded name -> the catalog's spelling); "" for any other book. A box set is no reading order."""
    if book.series_name or not _RANGE.search(book.title):
        return ""
    words = fold(book.title).split()
    return next((series_names[" ".join(words[:n])] for n in range(len(words), 0, -1) if " ".join(words[:n]) in series_names), "")
