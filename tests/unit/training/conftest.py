"""A small generated catalog whose vectors share genre, author and series structure.

Vectors are laid out exactly like the real ones (7 unit blocks of 384-d, missing = zero block),
but the "texts" are random unit vectors, so no text model is needed.
"""
from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_core.embedding import BLOCK_DIM, BLOCKS

GENRES = ("Fantasy", "Romance", "Mystery", "History", "Science Fiction", "Poetry", "Horror", "Classics")


@dataclasses.dataclass
class SyntheticCatalog:
    books: list[Book]
    vectors: np.ndarray
    genre_vectors: dict[str, np.ndarray]

    def text_encoder(self, texts):
        """Stands in for MiniLM: a text naming a genre gets that genre's vector ('<genre> books',
        'recommend <genre> books'); any other text a fixed random vector of its own."""
        out = []
        for text in texts:
            genre = next((g for g in sorted(GENRES, key=len, reverse=True) if g.lower() in text.lower()), None)
            if genre is not None:
                out.append(self.genre_vectors[genre])
            else:
                seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
                out.append(_unit(np.random.default_rng(seed), 1)[0])
        return np.stack(out)


def _unit(rng: np.random.Generator, *shape: int) -> np.ndarray:
    v = rng.standard_normal((*shape, BLOCK_DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _norm(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def make_catalog(n_authors: int = 20, books_per_author: int = 3, seed: int = 7) -> SyntheticCatalog:
    rng = np.random.default_rng(seed)
    genre_vec = dict(zip(GENRES, _unit(rng, len(GENRES)), strict=True))
    theme = dict(zip(GENRES, _unit(rng, len(GENRES)), strict=True))  # what descriptions of a genre talk about
    books, rows = [], []
    for a in range(n_authors):
        author = f"Author {a}"
        author_vec = _unit(rng, 1)[0]
        home = GENRES[a % len(GENRES)]
        series = f"Saga {a}" if a % 2 == 0 else ""
        for k in range(books_per_author):
            others = [g for g in GENRES if g != home]
            genres = (home, *rng.choice(others, size=2, replace=False).tolist())
            title_vec = _unit(rng, 1)[0]
            has_description = (a + k) % 3 != 0
            desc = _norm(theme[home] + 0.6 * _unit(rng, 1)[0]) if has_description else np.zeros(BLOCK_DIM, np.float32)
            blocks = {
                "title": _norm(title_vec + (0.8 * author_vec if series else 0)),
                "author": author_vec,
                "description": desc,
                "main_genre": genre_vec[home],
                "all_genres": _norm(sum(genre_vec[g] / (i + 1) for i, g in enumerate(genres))),
                "characters": np.zeros(BLOCK_DIM, np.float32),
                "title_author_genre": _norm(title_vec + author_vec + genre_vec[home]),
            }
            rows.append(np.concatenate([blocks[name] for name in BLOCKS]))
            rank = len(books)
            books.append(Book(
                id=f"b{rank}", title=f"Book {rank}" + (f" ({series}, #{k + 1})" if series else ""),
                authors=(author,), description="about things" if has_description else "", genres=genres,
                num_ratings=int(10 ** rng.uniform(2, 6)) if rank % 2 else 0,
                series_name=series, series_position=str(k + 1) if series else "", list_rank=rank,
            ))
    return SyntheticCatalog(books, np.stack(rows).astype(np.float32), genre_vec)


@pytest.fixture(scope="module")
def catalog() -> SyntheticCatalog:
    return make_catalog()
