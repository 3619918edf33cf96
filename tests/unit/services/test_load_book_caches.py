"""A load computes each book's genre keys before SERVING: every filter and SimilarBooks reason
asks for them, and leaving them to the first requests made those requests pay for them."""
from __future__ import annotations

import numpy as np

from smartlib_core.domain import Book
from smartlib_server.services.recommend.serving_index import ServingIndex
from smartlib_server.services.title_search import TitleIndex


class _Store:
    def __init__(self, books: list[Book]):
        self._books = books

    def version(self) -> int:
        return 1

    def all_books(self) -> list[Book]:
        return self._books

    def load_vectors(self, embedder_id: str):
        return [], np.zeros((0, 2688), dtype=np.float32)


def test_a_load_leaves_every_book_with_its_genre_keys_computed():
    books = [Book(id=f"b{i}", title=f"Book {i}", authors=("A",), genres=("Fantasy", "Fiction", f"Genre {i}")) for i in range(5)]
    index = ServingIndex(_Store(books), TitleIndex(), index_kind="flat")
    index.load()
    for book in index.books.values():
        assert "genre_keys" in vars(book)  # cached: no request computes it
        assert book.genre_keys == {"fantasy", "fiction", f"genre {book.id[1:]}"}
