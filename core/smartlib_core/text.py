"""Text normalisation shared by ids, duplicate detection and title lookup."""
from __future__ import annotations

import hashlib
import re
import unicodedata

_SERIES = re.compile(r"\s*\(([^()]*?),?\s*#\s*([\d.\-–]+)\)\s*$")
_SERIES_UNNUMBERED = re.compile(r"\s*\(([^()#]+)\)\s*$")
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)
_SPACES = re.compile(r"\s+")
_GOODREADS_ID = re.compile(r"/book/show/(\d+)")


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
