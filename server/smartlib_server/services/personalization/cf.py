"""Collaborative filtering: item-item similarity from co-occurrence in users' histories.

Why item-item rather than ALS: it needs no per-user factors, so a user's newest interaction
changes their recommendations at once (scoring reads the fresh history), and "readers of X also
read Y" is a direct read-out of the model. The `implicit` library was not added: the co-occurrence
model is a few sparse products in scipy, which is already installed.

Training is incremental on input and cheap on compute: the trainer keeps a running user x book
preference table, reads only interactions logged after the last one it saw (from any replica),
and recomputes the similarity matrix (one sparse X^T X) when something changed. The model
version `cf@<seq>` names the last interaction it includes.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from smartlib_core.top_n import top_n
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.domain.personalization import Interaction, InteractionKind
from smartlib_server.periodic import PeriodicWorker

if TYPE_CHECKING:
    from scipy import sparse

log = logging.getLogger(__name__)

NEIGHBOURS = 100  # similar books kept per book: bounds memory at ~n_books * 100 entries
SHRINK = 5.0  # damps similarities resting on one or two co-readers


def preference(kind: InteractionKind, rating: int) -> float | None:
    """Implicit preference of one event: >0 positive, 0 negative (cancels earlier ones), None: no signal."""
    if kind in (InteractionKind.READ, InteractionKind.LIKE):
        return 1.0
    if kind is InteractionKind.RATE:
        return {5: 1.0, 4: 0.8, 3: 0.3}.get(rating, 0.0)
    if kind is InteractionKind.CLICK:
        return 0.3
    if kind in (InteractionKind.DISLIKE, InteractionKind.DISMISS):
        return 0.0
    return None  # a view alone says nothing about taste


def fold_preferences(history: Iterable[Interaction]) -> dict[str, float]:
    """Book -> preference of one user, applying events in order: a dislike after a like wins,
    and a later like restores it. Books whose preference ends at 0 are left out."""
    prefs: dict[str, float] = {}
    for event in history:
        value = preference(event.kind, event.rating)
        if value is None:
            continue
        prefs[event.book_id] = 0.0 if value == 0 else max(prefs.get(event.book_id, 0.0), value)
    return {b: w for b, w in prefs.items() if w > 0}


@dataclasses.dataclass(frozen=True)
class CFModel:
    """An immutable trained model; the trainer swaps whole models, so readers never see a half."""

    version: str
    book_ids: tuple[str, ...]
    columns: Mapping[str, int]
    # book x book, top NEIGHBOURS per row, diagonal zero; None in the empty model, which has no
    # books for anything to read it with, so a start with no interactions never imports scipy
    similarity: sparse.csr_matrix | None
    users: int = 0

    @classmethod
    def empty(cls) -> "CFModel":
        return cls("cf@0", (), {}, None)

    def __len__(self) -> int:
        return len(self.book_ids)

    def scores(self, prefs: Mapping[str, float]) -> dict[str, float]:
        """Candidate book -> sum over the user's books of preference x similarity."""
        known = [(self.columns[b], w) for b, w in prefs.items() if b in self.columns]
        if not known:
            return {}
        sim = self.similarity
        totals = np.zeros(sim.shape[1], dtype=np.result_type(sim.dtype, np.float32))
        # similarity[rows].T @ weights, read straight from the CSR arrays in the same order (one
        # np.add.at over the rows one after another adds as a loop over them would): the sparse
        # submatrix and transpose scipy builds per call cost more than the sum itself.
        indptr, indices, data = sim.indptr, sim.indices, sim.data
        spans = [(indptr[row], indptr[row + 1], np.float32(weight)) for row, weight in known]
        np.add.at(totals, np.concatenate([indices[start:end] for start, end, _ in spans]),
                  np.concatenate([data[start:end] * weight for start, end, weight in spans]))
        nz = np.flatnonzero(totals > 0)
        return dict(zip(map(self.book_ids.__getitem__, nz.tolist()), totals[nz].tolist(), strict=True))

    def because_of(self, candidate: str, prefs: Mapping[str, float]) -> str | None:
        """The user's book contributing most to `candidate`'s score (for the reason text)."""
        column = self.columns.get(candidate)
        if column is None:
            return None
        best, best_score = None, 0.0
        for book, weight in prefs.items():
            row = self.columns.get(book)
            if row is None:
                continue
            score = weight * self.similarity[row, column]
            if score > best_score:
                best, best_score = book, score
        return best

    def anchors(self, candidates: Sequence[str], prefs: Mapping[str, float]) -> list[str | None]:
        """because_of for each of `candidates`: one read of the (user's books x candidates)
        block of the similarity matrix instead of a scalar read per pair (each cost ~20 us in
        scipy's indexing). The same answer: the products are the same float32 ones (a Python
        float times a float32 scalar is a float32 product), and argmax takes the first best
        book, as the loop's strict `>` does."""
        answer: list[str | None] = [None] * len(candidates)
        known = [(book, self.columns[book], weight) for book, weight in prefs.items() if book in self.columns]
        asked = [(i, self.columns[c]) for i, c in enumerate(candidates) if c in self.columns]
        if not known or not asked:
            return answer
        block = self._block([row for _, row, _ in known], [column for _, column in asked])
        scores = np.array([weight for _, _, weight in known], dtype=block.dtype)[:, None] * block
        best = scores.argmax(axis=0)
        tops = scores[best, np.arange(len(asked))]
        for (i, _), row, top in zip(asked, best.tolist(), tops.tolist(), strict=True):
            if top > 0:
                answer[i] = known[row][0]
        return answer


    def _block(self, rows: list[int], columns: list[int]) -> np.ndarray:
        """similarity[rows][:, columns] as a dense array, read from the CSR arrays (scipy's fancy
        indexing cost ~0.5 ms a call for some 15 x 100): the same stored values, zeros elsewhere."""
        sim = self.similarity
        distinct, asked = np.unique(np.asarray(columns, dtype=np.intp), return_inverse=True)
        position = np.full(sim.shape[1], -1, dtype=np.intp)
        position[distinct] = np.arange(len(distinct))
        block = np.zeros((len(rows), len(distinct)), dtype=sim.dtype)
        for i, row in enumerate(rows):
            start, end = sim.indptr[row], sim.indptr[row + 1]
            where = position[sim.indices[start:end]]
            held = where >= 0
            block[i, where[held]] = sim.data[start:end][held]
        return block[:, asked]


def train(pairs: Mapping[tuple[str, str], float], version: str, neighbours: int = NEIGHBOURS, shrink: float = SHRINK) -> CFModel:
    """Builds a CFModel from (user, book) -> preference; cosine with shrinkage and inverse user frequency."""
    if not pairs:
        return dataclasses.replace(CFModel.empty(), version=version)
    from scipy import sparse  # here: the empty model needs none (0.3 s of a start's import CPU)

    users: dict[str, int] = {}
    books: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for (user, book), weight in pairs.items():
        rows.append(users.setdefault(user, len(users)))
        cols.append(books.setdefault(book, len(books)))
        vals.append(weight)
    x = sparse.csr_matrix((np.array(vals, dtype=np.float32), (rows, cols)), shape=(len(users), len(books)))
    # Heavy readers' co-reads say less about any one pair of books: weight each user by 1/log.
    per_user = np.diff(x.indptr)
    x = sparse.diags((1.0 / np.log2(2.0 + per_user)).astype(np.float32)) @ x
    binary = (x > 0).astype(np.float32)
    co, counts = _offdiagonal(x.T @ x), _offdiagonal(binary.T @ binary)  # same sparsity pattern
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    row = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr))
    data = co.data / (norms[row] * norms[co.indices] + 1e-9) * (counts.data / (counts.data + shrink))
    co.data = data.astype(np.float32)
    sim = _top_per_row(co, neighbours)
    ids = tuple(sorted(books, key=books.__getitem__))
    return CFModel(version, ids, {b: i for i, b in enumerate(ids)}, sim, users=len(users))


def _offdiagonal(matrix) -> sparse.csr_matrix:
    from scipy import sparse

    matrix = sparse.csr_matrix(matrix)
    matrix.setdiag(0)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


def _top_per_row(matrix: sparse.csr_matrix, k: int) -> sparse.csr_matrix:
    from scipy import sparse

    matrix.sort_indices()
    indptr, indices, data = [0], [], []
    for r in range(matrix.shape[0]):
        start, end = matrix.indptr[r], matrix.indptr[r + 1]
        row_data, row_idx = matrix.data[start:end], matrix.indices[start:end]
        if end - start > k:
            keep = top_n(row_data, k, ordered=False)
            row_data, row_idx = row_data[keep], row_idx[keep]
        indices.append(row_idx)
        data.append(row_data)
        indptr.append(indptr[-1] + len(row_idx))
    cat = lambda parts, dtype: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
    return sparse.csr_matrix((cat(data, np.float32), cat(indices, np.int32), np.array(indptr)), shape=matrix.shape)


class CFTrainer:
    """Keeps `model` current with the interaction log.

    `refresh()` reads only the interactions logged after the last one applied; it can run on a
    schedule (`start`) and is also safe to call directly (tests, the CLI, after a bulk import).
    """

    def __init__(self, store: InteractionStore, neighbours: int = NEIGHBOURS, page: int = 100_000):
        self.store = store
        self.neighbours = neighbours
        self.page = page
        self.model = CFModel.empty()
        self.seq = 0
        self.trained_at = 0.0
        self._pairs: dict[tuple[str, str], float] = {}
        self.erasures = 0  # users dropped since start: part of the model version after one
        self._lock = threading.Lock()
        self._worker: PeriodicWorker | None = None
        self._stopped = False

    def refresh(self) -> bool:
        """Applies new interactions and retrains if there were any. Returns True when it retrained."""
        with self._lock:
            changed = False
            while True:
                batch = self.store.since(self.seq, self.page)
                for seq, event in batch:
                    self._apply(event)
                    self.seq = seq
                changed |= bool(batch)
                if len(batch) < self.page:
                    break
            if not changed:
                return False
            started = time.perf_counter()
            live = {pair: w for pair, w in self._pairs.items() if w > 0}
            self.model = train(live, f"cf@{self.seq}", self.neighbours)
            self.trained_at = time.time()
            log.info(
                "CF model %s: %d books, %d users, %d pairs, %.2fs",
                self.model.version, len(self.model), self.model.users, len(live), time.perf_counter() - started,
            )
            return True

    def knows_user(self, user_id: str) -> bool:
        """Whether any preference of `user_id` is held here (ForgetUser's tests ask)."""
        with self._lock:
            return any(user == user_id for user, _ in self._pairs)

    def drop_users(self, match: Callable[[str], bool]) -> int:
        """Drops the preferences of every user `match` accepts and retrains without them.

        ForgetUser calls it after deleting the user's log rows, which `refresh` then never reads
        again. Returns how many (user, book) preferences were dropped."""
        with self._lock:
            dropped = [pair for pair in self._pairs if match(pair[0])]
            for pair in dropped:
                del self._pairs[pair]
            if dropped:
                live = {pair: w for pair, w in self._pairs.items() if w > 0}
                self.erasures += 1
                self.model = train(live, f"cf@{self.seq}-e{self.erasures}", self.neighbours)
                self.trained_at = time.time()
            return len(dropped)

    def _apply(self, event: Interaction) -> None:
        value = preference(event.kind, event.rating)
        if value is None:
            return
        key = (event.user_id, event.book_id)
        self._pairs[key] = 0.0 if value == 0 else max(self._pairs.get(key, 0.0), value)

    def start(self, interval_s: float) -> PeriodicWorker:
        """Retrains every `interval_s` seconds when the log grew (writes from any replica count).
        A failed round (the database briefly down) is logged; the next one catches up."""
        if self._worker is None:
            self._worker = PeriodicWorker(self.refresh, interval_s, "smartlib-cf-trainer", failed="CF retraining failed")
            if self._stopped:
                self._worker.stop()  # stopped before it started: it never runs
        return self._worker.start()

    def stop(self) -> None:
        """Ends the schedule without waiting for a retraining in progress."""
        self._stopped = True
        if self._worker is not None:
            self._worker.stop(timeout=0)


def normalise_scores(scores: Mapping[str, float]) -> dict[str, float]:
    """Scales a source's scores into [0, 1] by its best score, so sources can be blended."""
    if not scores:
        return {}
    top = max(scores.values())
    if top <= 0 or math.isnan(top):
        return {}
    return {b: s / top for b, s in scores.items()}
