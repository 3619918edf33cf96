"""Text normalisation shared by ids, duplicate detection and title lookup."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import TypeVar

_SERIES = re.compile(r"\s*\(([^()]*?),?\s*#\s*([\d.\-–]+)\)\s*$")
_SERIES_UNNUMBERED = re.compile(r"\s*\(([^()#]+)\)\s*$")
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
_GOODREADS_ID = re.compile(r"/book/show/(\d+)")
T = TypeVar("T")


def fold(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces: 'Philosopher’s' -> 'philosophers'."""
    if text.isascii():  # NFKD leaves ASCII as it is and it has no marks: skip the per-character pass
        no_marks = text.replace("'", "")
    else:
        decomposed = unicodedata.normalize("NFKD", text)
        no_marks = "".join(c for c in decomposed if not unicodedata.combining(c))
        no_marks = no_marks.replace("’", "").replace("'", "")
    return _SPACES.sub(" ", _NON_WORD.sub(" ", no_marks.lower())).strip()


def split_series(title: str) -> tuple[str, str, str]:
    """'Dune (Dune, #1)' -> ('Dune', 'Dune', '1'); titles without a series suffix keep it empty."""
    match = _SERIES.search(title)
    if match:
        return title[: match.start()].strip(), match.group(1).strip().rstrip(","), match.group(2)
    return title.strip(), "", ""


def bare_title(title: str) -> str:
    """The folded title without its series suffix, for matching."""
    return fold(split_series(title)[0])


def dedupe_key(title: str, first_author: str) -> str:
    """Editions with the same key are one book."""
    return f"{bare_title(title)}|{fold(first_author)}"


def goodreads_id(url: str) -> str:
    match = _GOODREADS_ID.search(url or "")
    return f"gr-{match.group(1)}" if match else ""


def derived_id(title: str, first_author: str) -> str:
    return "sl-" + hashlib.sha256(dedupe_key(title, first_author).encode()).hexdigest()[:16]


def longest_runs(count: int, lookup: Callable[[int, int], T | None], longest: int) -> Iterator[tuple[T | None, int, int]]:
    """Greedy left-to-right segmentation of `count` tokens: at each position the longest run of
    at most `longest` tokens that `lookup(start, end)` knows (not None), else one token unknown.
    Yields (what lookup returned or None, start, end)."""
    position = 0
    while position < count:
        for size in range(min(longest, count - position), 0, -1):  # longest run first
            hit = lookup(position, position + size)
            if hit is not None:
                yield hit, position, position + size
                position += size
                break
        else:
            yield None, position, position + 1
            position += 1
