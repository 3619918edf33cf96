"""RecommendForUser: content profile + collaborative filtering + popular-in-your-genres, blended.

Each source's scores are scaled to [0, 1] by its best candidate, then mixed with the arm's
weights. Popularity's weight shrinks as the history grows: with no history it is the whole
answer, with a long one it only breaks ties. Books the user already read, liked, rated,
disliked or dismissed are never recommended.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future

import numpy as np

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Approach, Book, BookFilter, Recommendation
from smartlib_core.errors import FailedPrecondition, Unavailable
from smartlib_server.adapters.history_cache import HistoryCache
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.domain.personalization import (
    Arm,
    BlendWeights,
    Interaction,
    InteractionKind,
    PersonalResult,
)
from smartlib_server.domain.profiles import UserProfile
from smartlib_server.services.personalization.cf import CFModel, fold_preferences, normalise_scores
from smartlib_server.services.personalization.experiments import DEFAULT_ARM, ExperimentService
from smartlib_server.services.personalization.popularity import CatalogPriors
from smartlib_server.services.personalization.profile import build_profile, content_scores
from smartlib_server.services.personalization.ranking_cache import DEFAULT_USERS, RankingCache
from smartlib_server.services.personalization.reader_blend import (
    SEEN_KINDS,
    Folded,
    Pools,
    SeriesTable,
    fold,
    rank_on_readers,
    series_table,
)
from smartlib_server.services.personalization.reasons import title, verb
from smartlib_server.services.recommend.similar import WouldBlock, may_block
from smartlib_server.services.recommend.vector_index import VectorIndex
from smartlib_server.services.validation import require_id, require_k


@dataclasses.dataclass(frozen=True)
class ContentView:
    """The catalog and vector index one request reads (read once, so a swap cannot split it)."""

    books: Mapping[str, Book]
    index: VectorIndex
    approach: Approach
    model_version: str
    catalog_version: object


class PersonalRecommender:
    """Args:
        interactions: the durable log, or the histories kept of it (adapters/history_cache.py:
            only those let recommend_now answer without a worker).
        cf_model: returns the current CF model (the trainer swaps it in the background).
        experiments: assigns arms and records exposures.
        content: returns the ContentView for an approach (None: the server's default).
        max_k: the largest k accepted.
        pools: a book's reader-ranked row (RecommendService.reader_pool), for the reader
            ranking; None serves the blend alone.
        pools_now: the same on the event loop: a kept row, or WouldBlock where `pools` would build
            one (RecommendService.reader_pool_now). With it a user's ordering is computed afresh on
            the loop when every row it reads is kept; None leaves that to a worker.
        co_reading: the active encoder's co-reading graph (RecommendService.co_reading), blended
            into the reader ranking; None leaves it out.
        tastes: the chat agent's profile of a user (ConversationMemory.profile), read when the
            log holds no liked book yet; None leaves chat out.
        cached_users: how many users' scored candidates are kept between calls
            (ranking_cache.py); 0 ranks every call afresh.
    """

    def __init__(
        self,
        interactions: InteractionStore | HistoryCache,
        cf_model: Callable[[], CFModel],
        experiments: ExperimentService,
        content: Callable[[Approach | None], ContentView],
        max_k: int = 100,
        history_limit: int = 2000,
        pools: Pools | None = None,
        pools_now: Pools | None = None,
        co_reading: Callable[[], CoReading | None] | None = None,
        tastes: Callable[[str], UserProfile] | None = None,
        cached_users: int = DEFAULT_USERS,
    ):
        self.ranking_cache: RankingCache = RankingCache(cached_users)
        self.pools = pools
        self.pools_now = pools_now
        self.co_reading = co_reading
        self.tastes = tastes
        self.interactions = interactions
        self.cf_model = cf_model
        self.experiments = experiments
        self.content = content
        self.max_k = max_k
        self.history_limit = history_limit
        self._priors: CatalogPriors | None = None
        self._series: tuple[object, SeriesTable] | None = None
        self._priors_lock = threading.Lock()

    def recommend_for_user(self, user_id: str, k: int, filt: BookFilter) -> PersonalResult:
        assignment, items, approach, version = self._answer(user_id, k, filt, wait=True)
        recommendation_id = self.experiments.record_exposure(assignment, user_id, [i.book.id for i in items])
        return PersonalResult(tuple(items), approach, version, assignment.arm.name, recommendation_id, assignment.experiment)

    def recommend_now(self, user_id: str, k: int, filt: BookFilter) -> tuple[PersonalResult, Future]:
        """recommend_for_user for the event loop: the answer, and a future resolved once its
        exposure is committed (the reply must wait for it). The same answer and the same exposure.

        Raises:
            WouldBlock: the answer needs the database, the chat memory or a ranking from scratch
                (the history or the experiment are not kept fresh, the user's kept ordering is
                stale, the blend answers); the caller runs recommend_for_user on a worker.
        """
        assignment, items, approach, version = self._answer(user_id, k, filt, wait=False)
        recommendation_id, committed = self.experiments.submit_exposure(assignment, user_id, [i.book.id for i in items])
        result = PersonalResult(tuple(items), approach, version, assignment.arm.name, recommendation_id, assignment.experiment)
        return result, committed

    def _answer(self, user_id: str, k: int, filt: BookFilter, wait: bool):
        user_id = require_id(user_id, "user_id")
        k = require_k(k, self.max_k)
        assignment = self.experiments.assign(user_id, wait)
        if wait:
            history = self.interactions.user_history(user_id, self.history_limit)
        elif (history := self.interactions.cached(user_id, self.history_limit)) is None:
            raise WouldBlock
        folded = self.ranking_cache.folded(user_id, history, fold)  # once per change of a kept history
        told, genres = self.chat_tastes(user_id, history, wait, folded)
        items, approach, version = self.ranked(told, k, filt, assignment.arm, genres, user_id=user_id, wait=wait,
                                               folded=folded if told is history else None)
        return assignment, items, approach, version

    def chat_tastes(self, user_id: str, history: list[Interaction], wait: bool = True,
                    folded: Folded | None = None) -> tuple[list[Interaction], tuple[str, ...]]:
        """With no liked book in the log, what the chat agent remembers: the books the user told it
        they liked or disliked, as likes and dislikes before the log, and the genres they like.
        `folded`: fold(history), when the caller has it."""
        if self.tastes is None or (folded.liked if folded is not None else fold_preferences(history)):
            return history, ()
        may_block(wait)  # the memory may be Redis
        try:
            profile = self.tastes(user_id)
        except ValueError:  # an id the memory refuses: serve without chat tastes
            return history, ()
        said = [Interaction(user_id, b, InteractionKind.DISLIKE, 0, 0) for b in reversed(profile.disliked)]
        said += [Interaction(user_id, b, InteractionKind.LIKE, 0, 0) for b in reversed(profile.liked)]
        return [*said, *history], profile.liked_genres

    def ranked(
        self, history: Sequence[Interaction], k: int, filt: BookFilter, arm: Arm = DEFAULT_ARM,
        genres: Sequence[str] = (), user_id: str | None = None, wait: bool = True, folded: Folded | None = None,
    ) -> tuple[list[Recommendation], Approach, str]:
        """The ranking alone, for a given history: nothing is read or stored (`smartlib eval`
        scores fresh readers through it). Returns the items, the approach and the model version.
        With `user_id`, the reader ranking's scored candidates are kept for that user's next call
        (ranking_cache.py); the answer is the same either way. With `wait` false it raises
        WouldBlock unless the kept ordering answers, or `pools_now` orders afresh from kept rows
        (no row to build, no vector search, no database).
        `folded`: fold(history), when the caller has it.

        The reader ranking answers unless the arm asks for the blend, no reader ranker serves the
        approach, or the user has no liked book yet (cold start: popularity, from the blend)."""
        view = self.content(arm.approach)
        model = self.cf_model()
        items = None
        if arm.ranking != "blend" and self.pools is not None and view.approach is Approach.FINETUNED:
            folded = folded if folded is not None else fold(history)
            graph = self.co_reading() if self.co_reading is not None else None
            pools = self.pools if wait else self.pools_now
            memo = None
            if user_id is not None:
                def memo(inputs, compute):  # everything else the ordering reads, by version
                    key = (view.catalog_version, view.model_version, model.version, inputs)
                    return self.ranking_cache.get_or_compute(user_id, key, compute if pools is not None else _would_block,
                                                             served=(view.index, graph))
            elif pools is None:
                raise WouldBlock
            items = rank_on_readers(folded, k, filt, view.books, pools, model, co_reading=graph, memo=memo,
                                    series=self.series(view))
        may_block(wait or items is not None)  # the blend searches the vector index
        if items is None:
            items = rank(history, k, filt, view, model, self.priors(view), arm.blend, genres)
            return items, view.approach, f"{view.model_version}+{model.version}"
        if len(items) < k:  # a narrow filter left too few of the rows' candidates: popular books fill
            may_block(wait)
            have = {i.book.id for i in items}
            fill = rank(history, k + len(have), filt, view, model, self.priors(view), arm.blend)
            items += [i for i in fill if i.book.id not in have][:k - len(items)]
        return items, view.approach, f"{view.model_version}+{model.version}+readers"

    def series(self, view: ContentView) -> SeriesTable:
        """The catalog's series table (reader_blend.series_table), rebuilt when its version moves."""
        with self._priors_lock:
            if self._series is None or self._series[0] != view.catalog_version:
                self._series = (view.catalog_version, series_table(view.books))
            return self._series[1]

    def priors(self, view: ContentView) -> CatalogPriors:
        with self._priors_lock:
            if self._priors is None or self._priors.version != view.catalog_version:
                self._priors = CatalogPriors(dict(view.books), view.catalog_version)  # copy: catch_up mutates it
            return self._priors


def _would_block():
    raise WouldBlock


@dataclasses.dataclass(frozen=True)
class Signals:
    """Everything the blend needs about one user, computed once and reusable across weightings."""

    prefs: Mapping[str, float]
    seen: frozenset[str]
    content: Mapping[str, float]  # candidate -> [0, 1]
    content_because: Mapping[str, str]
    cf: Mapping[str, float]  # candidate -> [0, 1]
    affinity: Mapping[str, float]
    pop: np.ndarray  # per priors row, in [0, 1]


def signals(
    history: Sequence[Interaction], fetch: int, view: ContentView, model: CFModel, priors: CatalogPriors,
    genres: Sequence[str] = (),
) -> Signals:
    """`genres`: lower-cased genres the user likes, for the popular books when no liked book says more."""
    books = view.books
    prefs = {b: w for b, w in fold_preferences(history).items() if b in books}
    seen = frozenset(e.book_id for e in history if e.kind in SEEN_KINDS)
    newest_first = list(dict.fromkeys(e.book_id for e in reversed(history)))
    profile = build_profile(prefs, newest_first, view.index.vector)
    content_raw, because = content_scores(profile, view.index, fetch + len(seen))
    affinity = priors.affinity(prefs, books) or {g: 1.0 / len(genres) for g in genres}
    pop = priors.scores(affinity)
    top = float(pop.max()) if pop.size else 0.0
    return Signals(
        prefs, seen, normalise_scores(content_raw), because, normalise_scores(model.scores(prefs)), affinity,
        pop / top if top > 0 else pop,
    )


def rank(
    history: Sequence[Interaction],
    k: int,
    filt: BookFilter,
    view: ContentView,
    model: CFModel,
    priors: CatalogPriors,
    weights: BlendWeights,
    genres: Sequence[str] = (),
) -> list[Recommendation]:
    """The blend itself, free of storage and experiments (the evaluation calls it directly)."""
    fetch = (k + len(filt.exclude_ids)) * 4
    return blend(signals(history, fetch, view, model, priors, genres), k, filt, view, model, priors, weights, history)


def blend(
    sig: Signals, k: int, filt: BookFilter, view: ContentView, model: CFModel, priors: CatalogPriors,
    weights: BlendWeights, history: Sequence[Interaction],
) -> list[Recommendation]:
    books = view.books
    fetch = (k + len(sig.seen) + len(filt.exclude_ids)) * 4
    n = len(sig.prefs)
    pop_weight = weights.popularity / (1.0 + n / weights.popularity_half_history) if n else 1.0
    order = np.argsort(-sig.pop, kind="stable")

    def pop(book_id: str) -> float:
        row = priors.row.get(book_id)
        return float(sig.pop[row]) if row is not None else 0.0

    def global_pop(book_id: str) -> float:
        row = priors.row.get(book_id)
        return float(priors.percentile[row]) if row is not None else 0.0

    candidates = set(sig.content) | set(sig.cf)
    candidates.update(priors.ids[row] for row in order[:fetch])
    scored: list[tuple[float, str, str]] = []
    for book_id in candidates:
        book = books.get(book_id)
        if book is None or book_id in sig.seen or not filt.accepts(book):
            continue
        # Readers pick popular books more. Global popularity, not the genre-weighted one, so
        # a CF find outside the user's genres is not penalised twice.
        prior = 1.0 - weights.prior + weights.prior * global_pop(book_id)
        parts = {
            "content": weights.content * sig.content.get(book_id, 0.0) * prior,
            "cf": weights.cf * sig.cf.get(book_id, 0.0) * prior,
            "popularity": pop_weight * pop(book_id),
        }
        total = sum(parts.values())
        if total > 0:
            # Name a personal source whenever it carries a real share of the score: "because you
            # liked X" is more useful than "popular", and true once X contributed a third.
            personal = max(("content", "cf"), key=parts.__getitem__)
            scored.append((total, book_id, personal if parts[personal] >= total / 3 else "popularity"))
    if len(scored) < k:  # a selective filter: walk the whole catalog by popularity
        have = {b for _, b, _ in scored}
        for row in order:
            book_id = priors.ids[row]
            book = books.get(book_id)
            if book is not None and book_id not in have and book_id not in sig.seen and filt.accepts(book):
                scored.append((1e-3 * pop(book_id), book_id, "popularity"))
                if len(scored) >= k:
                    break
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [
        Recommendation(books[b], float(score), _reason(source, books[b], books, sig, model, priors, history))
        for score, b, source in scored[:k]
    ]


def _reason(source, book, books, sig: Signals, model, priors, history) -> str:
    if source == "content" and book.id in sig.content_because:
        anchor = sig.content_because[book.id]
        return f"because you {verb(anchor, history)} {title(books.get(anchor))}"
    if source == "cf":
        anchor = model.because_of(book.id, sig.prefs)
        if anchor is not None and anchor in books:
            return f"readers of {title(books[anchor])} also read {title(book)}"
    return priors.reason(book, sig.affinity)


def serving_content(recommend) -> Callable[[Approach | None], ContentView]:
    """ContentView factory over the live RecommendService (its ServingIndex and encoders)."""

    def view(approach: Approach | None) -> ContentView:
        index = recommend.index
        if not index.ready.is_set():
            raise Unavailable("the recommendation index is still loading; retry shortly", retry_after=2.0)
        try:
            resolved, finetuned = recommend.resolve_approach(approach)
        except FailedPrecondition:  # an arm asked for FINETUNED after it was deactivated
            resolved, finetuned = Approach.BASELINE, None
        vectors = finetuned.index if finetuned else index.baseline
        return ContentView(index.books, vectors, resolved, recommend.model_version(resolved, finetuned), index.version)

    return view
