"""A lexical (BM25) index over the catalog's words, kept in step with it one book at a time.

Dense search finds what a text is about; it misses what a reader remembers word for word: a
name, a rare word, a phrase from the blurb. This index finds those. It lives in the process,
beside the vector indexes, and follows the same change log (services/recommend/serving_index.py), so it
works the same over SQLite and PostgreSQL and a write is searchable when the call returns.

Words are folded (text.fold: case, accents, punctuation), so "Coração" and "coracao" are one
word, and stopwords of English and Portuguese are left out. There is no stemming: on the 10k
catalog a light plural stemmer did not move known-item hit@10 (README, "Text search").

Each field (title, authors, description) keeps its own postings and lengths; a query's score is
the weighted sum of its BM25 score in each field. A write touches only the postings of the
words of the books it changes; nothing is rebuilt.
"""
from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from itertools import chain

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.packed_text import joined, split
from smartlib_core.text import split_series
from smartlib_core.top_n import top_n

K1 = 1.2
B = 0.75
# Two fields, each its own BM25: "text" (title, authors and description, for free text) and
# "names" (title and authors, for search boxes and chat). One field per ask keeps a query to
# one pass over each of its words' postings.
FIELDS = ("text", "names")

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers
herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs
them themselves then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself yourselves
o os um uma uns umas de do da dos das em no na nos nas por pelo pela pelos pelas para com sem sobre e ou que
se ao aos ele ela eles elas seu sua seus suas este esta isso isto esse essa como mas mais muito ja foi ser
""".split())
_NON_WORD = re.compile(r"[^\w\s]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# The same folding for ASCII text as a translate table: the apostrophe goes, and every ASCII
# character _NON_WORD matches becomes a space (built from the regex, so the two cannot differ).
_ASCII_FOLD = {c: " " for c in range(128) if _NON_WORD.match(chr(c))} | {ord("'"): None}


def words(text: str) -> list[str]:
    """The indexed words of a text: folded, stopwords out, in order."""
    return [w for w in _folded(text) if w not in STOPWORDS]


def _folded(text: str) -> list[str]:
    """Every word of a text, folded, stopwords included."""
    if text.isascii():  # most of a catalog: one table lookup a character instead of the regex
        return text.lower().translate(_ASCII_FOLD).split()
    # text.fold's accent removal, looking only at the non-ASCII characters
    text = _NON_ASCII.sub(_unmarked, unicodedata.normalize("NFKD", text)).replace("’", "")
    return _NON_WORD.sub(" ", text.replace("'", "").lower()).split()


def _unmarked(match: re.Match) -> str:
    return "" if unicodedata.combining(match.group()) else match.group()


def book_fields(book: Book) -> tuple[str, str]:
    """The text of each field of a book: the title without its "(Series, #1)" suffix, which the
    series name then adds once."""
    title, series, _ = split_series(book.title)
    if book.series_name and book.series_name not in title:
        series = book.series_name
    names = f"{title} {series} {' '.join(book.authors)}"
    return f"{names} {book.description}", names


class _Postings:
    """One word's postings in one field: rows and term frequencies, growing by doubling."""

    __slots__ = ("rows", "tfs", "size")

    def __init__(self, rows: np.ndarray, tfs: np.ndarray) -> None:
        self.rows = rows
        self.tfs = tfs
        self.size = len(rows)

    def extend(self, rows: np.ndarray, tfs: np.ndarray) -> None:
        end = self.size + len(rows)
        if end > len(self.rows):
            capacity = max(end, 2 * len(self.rows))
            self.rows = np.resize(self.rows, capacity)
            self.tfs = np.resize(self.tfs, capacity)
        self.rows[self.size : end] = rows
        self.tfs[self.size : end] = tfs
        self.size = end

    def remove(self, row: int) -> None:
        """Drops `row` by moving the last posting into its place (order does not matter)."""
        found = np.flatnonzero(self.rows[: self.size] == row)
        if found.size:
            last = self.size - 1
            self.rows[found[0]], self.tfs[found[0]] = self.rows[last], self.tfs[last]
            self.size = last

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.tfs.nbytes


class _Field:
    """The postings (by word id) and lengths of one field across the catalog."""

    def __init__(self) -> None:
        self.postings: dict[int, _Postings] = {}
        self.lengths = np.zeros(0, dtype=np.float32)
        self.total = 0.0  # sum of lengths, for the average
        # word -> (rows, each row's BM25 for the word), what a query sums; every write empties it (it
        # moves the document count, the average length and so every score). One float32 a posting at most.
        self._scored: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def grow(self, capacity: int) -> None:
        if capacity > len(self.lengths):
            self.lengths = np.concatenate([self.lengths, np.zeros(capacity - len(self.lengths), dtype=np.float32)])

    def add(self, words: np.ndarray, rows: np.ndarray, tfs: np.ndarray) -> None:
        """Adds postings given as parallel arrays (word id, row, term frequency)."""
        self._scored.clear()
        if not len(words):
            return
        order = np.argsort(words, kind="stable")
        words, rows, tfs = words[order], rows[order], tfs[order]
        starts = np.flatnonzero(np.r_[True, words[1:] != words[:-1]])
        ends = np.r_[starts[1:], len(words)]
        for word, start, end in zip(words[starts].tolist(), starts.tolist(), ends.tolist(), strict=True):
            postings = self.postings.get(word)
            if postings is None:
                # A view of this write's sorted arrays: a posting list only ever changes in
                # place within its own slice, and extend() reallocates before growing it.
                self.postings[word] = _Postings(rows[start:end], tfs[start:end])
            else:
                postings.extend(rows[start:end], tfs[start:end])
        self.lengths += np.bincount(rows, tfs, minlength=len(self.lengths)).astype(np.float32)  # whole-number sums: exact
        self.total += float(tfs.sum())

    def remove(self, row: int, word_ids: Iterable[int]) -> None:
        self._scored.clear()
        for word in word_ids:
            postings = self.postings.get(word)
            if postings is not None:
                postings.remove(row)
                if not postings.size:
                    del self.postings[word]
        self.total -= float(self.lengths[row])
        self.lengths[row] = 0.0

    def scored(self, word: int, docs: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The rows holding `word` and the word's BM25 in each (None when no row holds it),
        computed once per word between writes: a query then only gathers and sums."""
        found = self._scored.get(word)
        if found is None:
            postings = self.postings.get(word)
            if postings is None:
                return None
            rows = postings.rows[: postings.size]
            tf = postings.tfs[: postings.size]
            average = max(self.total / docs, 1e-9) if docs else 1.0
            idf = math.log(1.0 + (docs - postings.size + 0.5) / (postings.size + 0.5))
            norm = (K1 * (1.0 - B)) + (K1 * B / average) * self.lengths[rows]
            found = self._scored[word] = (rows, (idf * (K1 + 1.0)) * tf / (tf + norm))
        return found

    def scores(self, query: Iterable[int], docs: int, capacity: int) -> np.ndarray | None:
        """BM25 of every row for the query words (None when no word occurs in this field)."""
        parts = [found for word in query if (found := self.scored(word, docs)) is not None]
        if not parts:
            return None
        if len(parts) == 1:
            return np.bincount(parts[0][0], parts[0][1], minlength=capacity)
        rows, contributions = zip(*parts, strict=True)
        return np.bincount(np.concatenate(rows), np.concatenate(contributions), minlength=capacity)


# A book's words are kept as one uint32 array, the field's number in the top two bits, so a
# delete knows which postings to edit without the old text (about 4 bytes a distinct word).
_FIELD_SHIFT = 30
_WORD_MASK = (1 << _FIELD_SHIFT) - 1


class LexicalIndex:
    """BM25 over every book's words, in two fields ("text" and "names"), updated per book.

    Thread-safe: writes and searches take one lock; a search at 10k books holds it well under
    a millisecond (make bench).
    """

    def __init__(self, analyse: Callable[[str], list[str]] = words):
        self._analyse = analyse
        self._fields = [_Field() for _ in FIELDS]
        self._vocab: dict[str, int] = {}  # word -> id; words of deleted books stay (a few bytes each)
        self._row_of: dict[str, int] = {}
        self._ids: list[str | None] = []
        self._free: list[int] = []
        self._words: list[np.ndarray | None] = []  # row -> its (field << 30 | word id) codes
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._row_of)

    def __contains__(self, book_id: str) -> bool:
        return book_id in self._row_of

    def upsert(self, books: Iterable[Book]) -> None:
        """Adds or replaces books; only the postings of their own words change."""
        latest = {book.id: book for book in books}
        analysed = [[self._counts(text) for text in book_fields(book)] for book in latest.values()]
        with self._lock:
            for book_id in latest:
                self._drop(book_id)
            vocab = self._vocab  # new words get ids in order of first appearance
            fresh = [w for w in dict.fromkeys(chain.from_iterable(chain.from_iterable(analysed))) if w not in vocab]
            vocab.update(zip(fresh, range(len(vocab), len(vocab) + len(fresh)), strict=True))
            per_field: list[tuple[list[int], list[int], list[float]]] = [([], [], []) for _ in FIELDS]
            empty = np.zeros(0, dtype=np.uint32)
            for book_id, counts in zip(latest, analysed, strict=True):
                row = self._free.pop() if self._free else self._new_row()
                self._row_of[book_id] = row
                self._ids[row] = book_id
                self._words[row] = empty  # until its codes are set below (a book of stopwords keeps none)
                for field_counts, (word_ids, rows, tfs) in zip(counts, per_field, strict=True):
                    word_ids += map(vocab.__getitem__, field_counts)  # C loops: no call per word here
                    rows += [row] * len(field_counts)
                    tfs += field_counts.values()
            arrays = [(np.array(w, dtype=np.int64), np.array(r, dtype=np.int32), np.array(t, dtype=np.float32))
                      for w, r, t in per_field]
            self._set_codes(arrays)
            for field, (word_ids, rows, tfs) in zip(self._fields, arrays, strict=True):
                field.add(word_ids, rows, tfs)

    def _counts(self, text: str) -> Counter:
        """The analysed words of `text` and how often each occurs."""
        if self._analyse is words:  # the default: count first, then drop the (few, frequent) stopwords
            counts = Counter(_folded(text))
            for stopword in STOPWORDS.intersection(counts):
                counts.pop(stopword)  # dict.pop: Counter.__delitem__ is a Python method
            return counts
        return Counter(self._analyse(text))

    def _set_codes(self, arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
        """Each written row's (field << 30 | word id) codes, field by field: one stable sort by
        row over every field's postings, cut into one view per row."""
        codes = np.concatenate([ids.astype(np.uint32) | np.uint32(number << _FIELD_SHIFT)
                                for number, (ids, _, _) in enumerate(arrays)])
        rows = np.concatenate([rows for _, rows, _ in arrays])
        if not len(rows):
            return
        order = np.argsort(rows, kind="stable")
        codes, rows = codes[order], rows[order]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        for row, part in zip(rows[starts].tolist(), np.split(codes, starts[1:]), strict=True):
            self._words[row] = part

    def remove(self, ids: Iterable[str]) -> None:
        with self._lock:
            for book_id in ids:
                self._drop(book_id)

    def _new_row(self) -> int:
        self._ids.append(None)
        self._words.append(None)
        capacity = len(self._ids)
        if capacity > len(self._fields[0].lengths):
            for field in self._fields:
                field.grow(max(capacity, 2 * len(field.lengths), 64))
        return capacity - 1

    def _drop(self, book_id: str) -> None:
        row = self._row_of.pop(book_id, None)
        if row is None:
            return
        codes = self._words[row]
        for number, field in enumerate(self._fields):
            field.remove(row, (codes[(codes >> _FIELD_SHIFT) == number] & _WORD_MASK).tolist())
        self._ids[row] = None
        self._words[row] = None
        self._free.append(row)

    def search(self, query: str, n: int, field: str = "text") -> list[tuple[str, float]]:
        """The top `n` (book id, BM25 score) for `query` in `field`, best first; books sharing
        no word with it are never returned."""
        if n <= 0:
            return []
        number = FIELDS.index(field)
        with self._lock:
            terms = [self._vocab[w] for w in dict.fromkeys(self._analyse(query)) if w in self._vocab]
            scores = self._fields[number].scores(terms, len(self._row_of), len(self._ids)) if terms else None
            if scores is None:
                return []
            hit = np.flatnonzero(scores > 0)  # scores are never negative; a float nonzero() is 5x slower
            hit = hit[top_n(scores[hit], n)]  # ties by lower index, so by catalog row
            return list(zip(map(self._ids.__getitem__, hit.tolist()), scores[hit].tolist(), strict=True))

    def nbytes(self) -> int:
        """Bytes of the numpy arrays (postings, lengths, the scores kept for words asked since
        the last write, each book's word codes); the Python objects around them come on top
        (docs/scale.md measures the whole)."""
        with self._lock:
            return sum(sum(p.nbytes for p in f.postings.values()) + f.lengths.nbytes + sum(  # kept rows: views of postings
                scores.nbytes for _, scores in f._scored.values()) for f in self._fields) + sum(
                w.nbytes for w in self._words if w is not None)

    # -- a built index as flat arrays, so a restart can skip analysing every book -------------

    def snapshot(self) -> dict[str, np.ndarray]:
        """The index as flat arrays (what `restore` takes): vocabulary and ids as NUL-separated
        UTF-8, each row's word codes and each field's postings as offsets into one array."""
        with self._lock:
            if any("\0" in book_id for book_id in self._row_of):
                raise ValueError("a book id holds a NUL character")
            arrays = {
                "vocab": joined(list(self._vocab)),  # in id order: ids were handed out in insertion order
                "ids": joined(["" if book_id is None else book_id for book_id in self._ids]),
                **_packed("codes", [np.zeros(0, np.uint32) if w is None else w for w in self._words]),
            }
            for number, field in enumerate(self._fields):
                words = sorted(field.postings)
                postings = [field.postings[w] for w in words]
                arrays[f"f{number}_words"] = np.asarray(words, dtype=np.int64)
                arrays[f"f{number}_lengths"] = field.lengths[: len(self._ids)].copy()
                arrays[f"f{number}_total"] = np.float64(field.total)
                arrays.update(_packed(f"f{number}_rows", [p.rows[: p.size] for p in postings]))
                arrays[f"f{number}_tfs"] = np.concatenate([p.tfs[: p.size] for p in postings] or [np.zeros(0, np.float32)])
            return arrays

    @classmethod
    def restore(cls, arrays: Mapping[str, np.ndarray]) -> "LexicalIndex":
        """The index `snapshot` described (with the default analyser); ValueError when the
        arrays do not hold together. Postings are views into the stored arrays until a write
        grows them."""
        index = cls()
        vocab, ids = split(arrays["vocab"]), split(arrays["ids"])
        index._vocab = {word: number for number, word in enumerate(vocab)}
        if len(index._vocab) != len(vocab):
            raise ValueError("repeated words in the stored vocabulary")
        index._ids = [book_id or None for book_id in ids]
        index._row_of = {book_id: row for row, book_id in enumerate(ids) if book_id}
        index._free = [row for row, book_id in enumerate(ids) if not book_id]
        codes = _unpacked(arrays, "codes", len(ids), np.uint32)
        index._words = [None if not book_id else row_codes for book_id, row_codes in zip(ids, codes, strict=True)]
        for number, field in enumerate(index._fields):
            words = arrays[f"f{number}_words"]
            rows = _unpacked(arrays, f"f{number}_rows", len(words), np.int32)
            tfs = np.asarray(arrays[f"f{number}_tfs"], dtype=np.float32)
            lengths = np.asarray(arrays[f"f{number}_lengths"], dtype=np.float32)
            if len(lengths) != len(ids) or len(tfs) != int(arrays[f"f{number}_rows_offsets"][-1]):
                raise ValueError("stored field arrays of inconsistent lengths")
            every_row = np.asarray(arrays[f"f{number}_rows"])
            if len(words) and (words.min() < 0 or words.max() >= len(vocab)):
                raise ValueError("a posting names a word outside the vocabulary")
            if len(every_row) and (every_row.min() < 0 or every_row.max() >= len(ids)):
                raise ValueError("a posting names a row outside the index")
            bounds = arrays[f"f{number}_rows_offsets"].tolist()
            field.postings = {word: _Postings(row_list, tfs[bounds[i] : bounds[i + 1]])
                              for i, (word, row_list) in enumerate(zip(words.tolist(), rows, strict=True))}
            field.lengths = lengths.copy()
            field.total = float(arrays[f"f{number}_total"])
        return index


def _packed(name: str, parts: list[np.ndarray]) -> dict[str, np.ndarray]:
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    values = np.concatenate(parts) if parts else np.zeros(0)
    return {name: values, f"{name}_offsets": offsets}


def _unpacked(arrays: Mapping[str, np.ndarray], name: str, count: int, dtype) -> list[np.ndarray]:
    values, offsets = np.asarray(arrays[name], dtype=dtype), arrays[f"{name}_offsets"]
    if len(offsets) != count + 1 or (count and (offsets[0] != 0 or np.any(np.diff(offsets) < 0))) or offsets[-1] != len(values):
        raise ValueError(f"stored {name} offsets do not fit their values")
    bounds = offsets.tolist()
    return [values[bounds[i] : bounds[i + 1]] for i in range(count)]
