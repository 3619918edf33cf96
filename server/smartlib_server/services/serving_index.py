"""The in-memory serving state: books, the BASELINE index and the optional FINETUNED one.

The state follows the catalog store's change log, so local writes, other replicas' writes and
missed notifications all converge the same way: apply every change after the last seen one.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable

import numpy as np

from smartlib_server.adapters.catalog_store import CatalogStore
from smartlib_server.domain import Book
from smartlib_server.embedding import DIM, EMBEDDER_ID, normalise
from smartlib_server.services.title_search import TitleIndex
from smartlib_server.vector_index import VectorIndex

log = logging.getLogger(__name__)


@dataclasses.dataclass
class FinetunedModel:
    """An active encoder and its 256-d index. `rerank` blends in the popularity prior."""

    version: str
    encode: Callable[[np.ndarray], np.ndarray]
    index: VectorIndex
    popularity_weight: float = 0.0
    prior: Callable[[Book], float] = lambda book: 0.0


class ServingIndex:
    def __init__(self, store: CatalogStore, titles: TitleIndex):
        self.store = store
        self.titles = titles
        self.books: dict[str, Book] = {}
        self.baseline = VectorIndex(DIM)
        self.finetuned: FinetunedModel | None = None
        self.applied_seq = 0
        self.ready = threading.Event()
        self._apply_lock = threading.Lock()

    @property
    def version(self) -> int:
        return self.applied_seq

    def load(self) -> int:
        """Builds everything from the store; returns the number of books served."""
        with self._apply_lock:
            seq = self.store.version()
            books = {b.id: b for b in self.store.all_books()}
            ids, matrix = self.store.load_vectors(EMBEDDER_ID)
            baseline = VectorIndex(DIM)
            if ids:
                baseline.upsert(ids, normalise(matrix))
            self.books, self.baseline, self.applied_seq = books, baseline, seq
            self.titles.upsert(books.values())
            if self.finetuned is not None:
                self.finetuned = self.build_finetuned(self.finetuned, ids, matrix)
        self.ready.set()
        log.info("serving %d books (%d vectors) at catalog version %d", len(books), len(ids), seq)
        return len(books)

    def build_finetuned(self, model: FinetunedModel, ids: list[str] | None = None, raw: np.ndarray | None = None) -> FinetunedModel:
        """A new FinetunedModel whose index holds every stored book encoded by `model.encode`."""
        if ids is None or raw is None:
            ids, raw = self.store.load_vectors(EMBEDDER_ID)
        index = VectorIndex(256)
        if ids:
            encoded = model.encode(raw)
            index = VectorIndex(encoded.shape[1])
            index.upsert(ids, normalise(encoded))
        return dataclasses.replace(model, index=index)

    def catch_up(self) -> int:
        """Applies store changes made since the last call (by anyone); returns how many."""
        with self._apply_lock:
            changes = self.store.changes_since(self.applied_seq)
            if not changes:
                return 0
            latest: dict[str, str] = {}
            for change in changes:
                latest[change.book_id] = change.op
            upserted = [book_id for book_id, op in latest.items() if op == "upsert"]
            deleted = [book_id for book_id, op in latest.items() if op == "delete"]
            books = self.store.get_books(upserted)
            vectors = self.store.get_vectors(EMBEDDER_ID, list(books))
            gone = deleted + [b for b in upserted if b not in books]  # upserted then deleted
            with_vectors = [b for b in books if b in vectors]
            if with_vectors:
                raw = np.stack([vectors[b] for b in with_vectors])
                self.baseline.upsert(with_vectors, normalise(raw))
                if self.finetuned is not None:
                    self.finetuned.index.upsert(with_vectors, normalise(self.finetuned.encode(raw)))
            self.books.update(books)
            self.titles.upsert(books.values())
            for book_id in gone:
                self.books.pop(book_id, None)
            self.baseline.remove(gone)
            if self.finetuned is not None:
                self.finetuned.index.remove(gone)
            self.titles.remove(gone)
            self.applied_seq = changes[-1].seq
            return len(changes)

    def activate_finetuned(self, model: FinetunedModel | None) -> None:
        """Swaps the FINETUNED model in one assignment; requests in flight keep the old one."""
        self.finetuned = model
