"""The in-memory serving state: books, the BASELINE index and the optional FINETUNED one.

Requests read `ServingIndex.state` once and use that object throughout, so a hot swap (one
reference assignment) can never mix two versions inside a response. The state follows the
catalog store's change log: local writes, other replicas' writes and missed notifications all
converge the same way, by applying every change after the last one seen.
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Book
from smartlib_core.embedding import BLOCK_DIM, DIM, EMBEDDER_ID, normalise, text_view
from smartlib_core.lexical import LexicalIndex
from smartlib_core.reader_ranking import ReaderRanker, SignalTable
from smartlib_server.adapters.catalog_store import CatalogStore
from smartlib_server.services.recommend import stored_catalog
from smartlib_server.services.recommend.derived_index import DerivedIndexStore
from smartlib_server.services.recommend.stored_catalog import CatalogKey, catalog_key
from smartlib_server.services.recommend.stored_lexical import lexical_index
from smartlib_server.services.recommend.vector_index import VectorIndex, choose_index_kind
from smartlib_server.services.title_search import TitleIndex

log = logging.getLogger(__name__)

# The FINETUNED index keeps every book's top neighbours precomputed (neighbour_table.py), so
# SimilarBooks needs no search. Building the table is O(N^2): 0.35-0.7 s for 10k books and
# 1.3 s for 20k on one core here, so larger catalogs go without and search instead.
NEIGHBOUR_TABLE_MAX_BOOKS = 20_000
# SimilarBooks reads (k + exclusions) x OVERSAMPLE candidates: 100 covers k up to 23 with one
# excluded id besides the book itself; deeper requests search.
NEIGHBOUR_TABLE_DEPTH = 100
# What NeighbourTable.rows() returns, by the names SMARTLIB_HOME/derived stores them under.
_TABLE_ARRAYS = ("positions", "scores", "lengths")


@dataclasses.dataclass(frozen=True)
class FinetunedModel:
    """An active encoder and its 256-d index; `prior` is the popularity prior it was tuned with."""

    version: str
    encode: Callable[[np.ndarray], np.ndarray]
    index: VectorIndex
    popularity_weight: float = 0.0
    prior: Callable[[Book], float] = lambda book: 0.0
    fingerprint: str = ""  # identifies the weights and what runs them; "" never reuses stored arrays
    ranker: ReaderRanker | None = None  # orders SimilarBooks candidates like readers' lists; None: cosine + prior
    co_reading: CoReading | None = None  # what readers' lists pair, for RecommendForUser; None: trained without lists

    def priors(self, ids: Sequence[str], books: Mapping[str, Book]) -> list[float]:
        """`prior` of each id's book (0 for an id without one), to store beside its vector."""
        return [self.prior(books[i]) if i in books else 0.0 for i in ids]


@dataclasses.dataclass(frozen=True)
class ServingState:
    books: dict[str, Book]
    baseline: VectorIndex
    finetuned: FinetunedModel | None
    source: str = "catalog"  # or "kb:<version>" when started from a knowledge-base snapshot
    signals: SignalTable | None = None  # the reader ranker's per-book signals; built from `books` when None
    text_view: VectorIndex | None = None  # the baseline's 384-d text view (embedding.text_view); built ("auto") when None

    def __post_init__(self):
        if self.signals is None:
            table = SignalTable()
            table.upsert(self.books.values())
            object.__setattr__(self, "signals", table)
        if self.text_view is None:
            object.__setattr__(self, "text_view", text_view_index(self.baseline))


class _CatalogMoved(Exception):
    """A write moved the catalog while a load used what its stored key names."""


class ServingIndex:
    def __init__(
        self, store: CatalogStore, titles: TitleIndex, index_kind: str = "auto", derived: DerivedIndexStore | None = None,
    ):
        self.store = store
        self.index_kind = index_kind  # auto | flat | ivf, resolved per index by choose_index_kind
        self.derived = derived  # where FINETUNED encodings and tables are kept between restarts
        self.titles = titles
        self.lexical = LexicalIndex()  # BM25 over every served book's words, kept beside `titles`
        self.state = ServingState({}, VectorIndex(DIM), None)
        self.applied_seq = 0
        self.catalog = CatalogKey(-1, "")  # the stored-catalog key of the books the last load read
        self.ready = threading.Event()
        self._apply_lock = threading.Lock()

    @property
    def version(self) -> int:
        return self.applied_seq

    # Shortcuts for callers that need one field and no consistency across fields.
    @property
    def books(self) -> dict[str, Book]:
        return self.state.books

    @property
    def baseline(self) -> VectorIndex:
        return self.state.baseline

    @property
    def finetuned(self) -> FinetunedModel | None:
        return self.state.finetuned

    def load(self, finetuned: FinetunedModel | Callable[[], FinetunedModel | None] | None = None,
             reuse_derived: bool = True) -> int:
        """Builds everything from the store; returns the number of books served. `finetuned` may
        be a function, called once the catalog is read (the encoder loads meanwhile)."""
        with self._apply_lock:
            try:
                books, ids = self._load(finetuned, reuse_derived, keyed=self.derived is not None)
            except _CatalogMoved:  # a write while the stored catalog was in use: read it all instead
                books, ids = self._load(finetuned, reuse_derived, keyed=False)
        self.ready.set()
        log.info("serving %d books (%d vectors) at catalog version %d", len(books), len(ids), self.applied_seq)
        return len(books)

    def _load(self, finetuned: FinetunedModel | Callable[[], FinetunedModel | None] | None, reuse_derived: bool,
              keyed: bool) -> tuple[dict, list[str]]:
        """`load` under the apply lock. `keyed`: with the catalog key, so what the key names
        (stored_catalog.py) comes from SMARTLIB_HOME/derived when stored there, and is stored when not."""
        key = catalog_key(self.store, EMBEDDER_ID) if keyed else CatalogKey(self.store.version(), "")
        books = {b.id: b for b in self.store.all_books()}
        for book in books.values():  # asked by every filter and SimilarBooks reason: not on a request's time
            book.genre_keys  # noqa: B018 (a cached property, computed here once)
        stored = stored_catalog.load(self.derived, key.key) if key.key and reuse_derived else None
        if stored is None:
            ids, matrix = self.store.load_vectors(EMBEDDER_ID)
        if key.key and self.store.version() != key.version:  # a write since the key: it names none of this
            if stored is not None:
                raise _CatalogMoved
            key = CatalogKey(key.version, "")
        if stored is not None:
            ids, unit, view, signals = stored.ids, stored.unit, stored.view, stored.signals
            raw = functools.partial(self._vectors_at, key.version, ids)  # read only if the encoder needs them
        else:
            unit, signals, raw = normalise(matrix) if ids else matrix, None, matrix  # once, for both indexes
            view = text_view(unit) if ids else np.zeros((0, BLOCK_DIM), dtype=np.float32)
        baseline = baseline_index(ids, unit, self.index_kind, normalised=True)
        model = (finetuned() if callable(finetuned) else finetuned) or self.state.finetuned
        if model is not None:
            model = with_index(model, ids, raw, books, self.index_kind, self.derived, reuse=reuse_derived, catalog=key.key)
        self.titles.upsert(books.values())
        self.lexical = lexical_index(self.derived, list(books.values()), reuse=reuse_derived, catalog=key.key)
        self.state = ServingState(books, baseline, model, signals=signals,
                                  text_view=text_view_index(baseline, self.index_kind, unit, view))
        if key.key and stored is None:
            stored_catalog.save(self.derived, key.key, ids, unit, view, self.state.signals)
        self.applied_seq = key.version  # a write during the reads is applied again by catch_up
        self.catalog = key
        return books, ids

    def _vectors_at(self, version: int, ids: list[str]) -> np.ndarray:
        """The stored vectors of `ids`, read while the catalog still stands at `version`."""
        stored_ids, matrix = self.store.load_vectors(EMBEDDER_ID)
        if stored_ids != ids or self.store.version() != version:
            raise _CatalogMoved
        return matrix

    def swap(self, state: ServingState, seq: int | None = None) -> ServingState:
        """Replaces the whole state in one assignment; returns the previous one.

        With `seq` (a snapshot's catalog version) the change log is replayed from there, so a
        snapshot converges to what the store holds now.
        """
        with self._apply_lock:
            previous, self.state = self.state, state
            if seq is not None:
                self.applied_seq = seq
                for lookup in (self.titles, self.lexical):
                    lookup.remove(set(previous.books) - set(state.books))
                    lookup.upsert(state.books.values())
        if seq is not None:
            self.catch_up()
        self.ready.set()
        return previous

    def activate_finetuned(self, model: FinetunedModel | None) -> FinetunedModel | None:
        """Serves `model` (already indexed) for FINETUNED; returns the model it replaced."""
        with self._apply_lock:
            previous = self.state.finetuned
            self.state = dataclasses.replace(self.state, finetuned=model)
        return previous

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
            gone = deleted + [b for b in upserted if b not in books]  # upserted, then deleted
            state = self.state
            with_vectors = [b for b in books if b in vectors]
            if with_vectors:
                raw = np.stack([vectors[b] for b in with_vectors])
                unit = normalise(raw)
                state.baseline.upsert(with_vectors, unit)
                state.text_view.upsert(with_vectors, text_view(unit))
                if state.finetuned is not None:
                    bias = state.finetuned.priors(with_vectors, books)
                    state.finetuned.index.upsert(with_vectors, normalise(state.finetuned.encode(raw)), bias)
            state.books.update(books)
            with state.signals.lock:
                state.signals.upsert(books.values())
                state.signals.remove(gone)
            self.titles.upsert(books.values())
            self.lexical.upsert(books.values())
            for book_id in gone:
                state.books.pop(book_id, None)
            state.baseline.remove(gone)
            state.text_view.remove(gone)
            if state.finetuned is not None:
                state.finetuned.index.remove(gone)
            self.titles.remove(gone)
            self.lexical.remove(gone)
            self.applied_seq = changes[-1].seq
            return len(changes)


def text_view_index(baseline: VectorIndex, index_kind: str = "auto", unit: np.ndarray | None = None,
                    view: np.ndarray | None = None) -> VectorIndex:
    """The 384-d view of every baseline vector that text search scans (7x fewer bytes than the
    2688-d index, same scores; see embedding.text_view), of the kind `index_kind` resolves to
    (under "auto", flat up to about 21k books).

    `unit`, the (n, 2688) matrix `baseline` was just built from (its ids in order), saves
    reading every vector back out of the index, which was most of this function's cost. A
    flat index holds exactly those floats, so the view is the same; an ivf baseline holds
    8-bit decoded ones, so its view is still read back from it. `view`, text_view(unit) when
    the caller has it (the stored catalog keeps it), saves computing it again."""
    ids = baseline.ids()
    if not ids:
        return VectorIndex(BLOCK_DIM, screened=True)
    index = VectorIndex(BLOCK_DIM, choose_index_kind(len(ids), BLOCK_DIM, index_kind), screened=True)
    exact = unit is not None and baseline.kind == "flat" and unit.shape == (len(ids), baseline.dim)
    if exact and view is not None and view.shape == (len(ids), BLOCK_DIM):
        rows = view
    else:
        rows = text_view(unit if exact else baseline.vectors(ids))
    index.upsert(ids, rows)
    return index


def baseline_index(ids: list[str], raw: np.ndarray, index_kind: str = "auto", *, normalised: bool = False) -> VectorIndex:
    """The BASELINE index over `raw` (n, 2688), normalised here unless `normalised` says it
    already is, of the kind `index_kind` resolves to."""
    index = VectorIndex(DIM, choose_index_kind(len(ids), DIM, index_kind))
    if ids:
        index.upsert(ids, raw if normalised else normalise(raw))
    return index


def with_index(
    model: FinetunedModel, ids: list[str], raw: np.ndarray | Callable[[], np.ndarray], books: Mapping[str, Book],
    index_kind: str = "auto", derived: DerivedIndexStore | None = None, *, reuse: bool = True, catalog: str = "",
) -> FinetunedModel:
    """A copy of `model` whose 256-d index holds `raw` (n, 2688) encoded, each book's
    popularity prior attached for re-ranking (a book missing from `books` gets none). With
    `derived`, the encoding and the neighbour table come from there when these exact inputs
    were indexed before (unless `reuse` is False), and are stored there when computed.
    `raw` may be a function that reads the vectors, called only when they are encoded;
    `catalog` (a stored_catalog key of exactly these vectors) then names them in the key."""
    depth = NEIGHBOUR_TABLE_DEPTH if len(ids) <= NEIGHBOUR_TABLE_MAX_BOOKS else 0
    if not ids:
        return dataclasses.replace(model, index=VectorIndex(256, neighbours=depth))
    if callable(raw) and not catalog:
        raw = raw()  # the key hashes them
    priors = model.priors(ids, books)
    key = derived.key(model.fingerprint, ids, raw, priors, depth, catalog) if derived and model.fingerprint else None
    table_names = _TABLE_ARRAYS if depth else ()
    stored = derived.load(key, ("encoded", *table_names)) if key and reuse else None
    encoded = stored["encoded"] if stored else normalise(model.encode(raw() if callable(raw) else raw))
    rows = tuple(stored[name] for name in table_names) if stored and depth else None
    dim = encoded.shape[1]
    index = VectorIndex(dim, choose_index_kind(len(ids), dim, index_kind), neighbours=depth)
    try:
        index.upsert(ids, encoded, priors, table_rows=rows)
    except ValueError as exc:
        if stored is None:
            raise
        log.warning("stored derived index %s unusable (%s); recomputing", key, exc)  # wrong shapes
        return with_index(model, ids, raw() if callable(raw) else raw, books, index_kind)
    if key and stored is None:
        derived.save(key, {"encoded": encoded, **dict(zip(table_names, index.table_rows() or (), strict=True))})
    return dataclasses.replace(model, index=index)
