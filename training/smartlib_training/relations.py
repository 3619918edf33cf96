"""Book-to-book relations from catalog metadata: genre overlap, series, author, and the split.

Training uses them to grade positives; evaluation uses them as relevance labels. Keeping both
here means the two cannot drift apart on what "same author" or "same series" means.
"""
from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np

from smartlib_core.domain import Book
from smartlib_core.text import fold


def author_key(book: Book) -> str:
    return fold(book.authors[0]) if book.authors else ""


def series_key(book: Book) -> str:
    return fold(book.series_name)


def group_members(keys: Sequence[str]) -> list[np.ndarray]:
    """For each item, the indices of the *other* items with the same non-empty key."""
    by_key: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key:
            by_key.setdefault(key, []).append(i)
    empty = np.zeros(0, dtype=np.int64)
    out = []
    for i, key in enumerate(keys):
        members = by_key.get(key) if key else None
        out.append(np.array([j for j in members if j != i], dtype=np.int64) if members else empty)
    return out


def genre_jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    """The evaluation's graded relevance: plain Jaccard of the two genre sets."""
    sa, sb = set(a), set(b)
    if not sa or not sb:
        return 0.0
    return len(sa & sb) / len(sa | sb)


def genre_profile(books: Sequence[Book], vocabulary: dict[str, int] | None = None) -> tuple[np.ndarray, dict[str, int]]:
    """Unit-length genre vectors whose weights fall with shelf position.

    Goodreads sorts shelves by how many readers chose them, so the first shelves say more about a
    book than the tail; 1/sqrt(position) keeps the tail from swamping them. Training grades its
    genre positives with the cosine of these profiles, which is deliberately not the plain
    Jaccard the evaluation scores with.
    """
    if vocabulary is None:
        vocabulary = {}
        for book in books:
            for genre in book.genres:
                vocabulary.setdefault(genre, len(vocabulary))
    matrix = np.zeros((len(books), max(len(vocabulary), 1)), dtype=np.float32)
    for row, book in enumerate(books):
        for position, genre in enumerate(book.genres):
            column = vocabulary.get(genre)
            if column is not None:
                matrix[row, column] = max(matrix[row, column], 1.0 / np.sqrt(position + 1))
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-12), vocabulary


def author_disjoint_split(books: Sequence[Book], test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, test indices) such that no author appears on both sides.

    Co-authored books join their authors into one group (union-find), so even a second author
    never leaks across the split.
    """
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    names = [[fold(a) for a in book.authors if a.strip()] or [f"#{i}"] for i, book in enumerate(books)]
    for group in names:
        for other in group[1:]:
            parent[find(other)] = find(group[0])
    roots = [find(group[0]) for group in names]
    unique = sorted(set(roots))
    random.Random(seed).shuffle(unique)
    target = test_fraction * len(books)
    sizes: dict[str, int] = {}
    for root in roots:
        sizes[root] = sizes.get(root, 0) + 1
    test_roots: set[str] = set()
    taken = 0
    for root in unique:
        if taken >= target:
            break
        test_roots.add(root)
        taken += sizes[root]
    is_test = np.array([root in test_roots for root in roots])
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)
