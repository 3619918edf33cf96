"""Builds the personalisation services from the core ones, so app.py needs a few lines only."""
from __future__ import annotations

import dataclasses

from smartlib_server.adapters.erasure_store import ErasureStore
from smartlib_server.adapters.experiment_store import ExperimentStore
from smartlib_server.adapters.history_cache import HistoryCache
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import SqlDatabase
from smartlib_server.services.personalization.blend import PersonalRecommender, serving_content
from smartlib_server.services.personalization.cf import CFTrainer
from smartlib_server.services.personalization.erasure import UserEraser
from smartlib_server.services.personalization.experiments import ExperimentService
from smartlib_server.services.personalization.interactions import InteractionService, book_resolver
from smartlib_server.services.personalization.ranking_cache import DEFAULT_USERS


@dataclasses.dataclass
class Personalization:
    store: InteractionStore
    interactions: InteractionService
    trainer: CFTrainer
    experiments: ExperimentService
    recommender: PersonalRecommender
    histories: HistoryCache
    eraser: UserEraser | None = None  # ForgetUser; None when built without conversation memory

    def start(self, cf_interval_s: float) -> None:
        """Trains CF from the stored log, then keeps it current in the background. Idempotent."""
        self.trainer.refresh()
        self.trainer.start(cf_interval_s)  # a second start keeps the first schedule

    def follow(self) -> None:
        """Applies what other processes wrote since the last call (the change follower's round)."""
        self.histories.follow()
        if self.eraser is not None:
            self.eraser.follow()  # ForgetUser run by another replica

    def close(self) -> None:
        self.trainer.stop()


def build_personalization(db: SqlDatabase, recommend, metrics=None, max_k: int = 100, memory=None,
                          cached_users: int = DEFAULT_USERS) -> Personalization:
    """Args:
        db: the catalog database (interactions, experiments and exposures live beside the books).
        recommend: the RecommendService, whose index and encoders give the content signal.
        metrics: the ServerMetrics, for the per-arm exposure and outcome counters; None disables them.
        memory: the conversation memory ForgetUser erases from; None leaves ForgetUser out.
        cached_users: users whose RecommendForUser candidates and histories are kept between calls (0: none).
    """
    store = InteractionStore(db)
    histories = HistoryCache(store, max_users=cached_users)  # users' histories: this replica's writes and the log's
    trainer = CFTrainer(store)
    experiments = ExperimentService(ExperimentStore(db, store), metrics)
    resolve = book_resolver(lambda: recommend.index.books, recommend.index.store.resolve_id)
    interactions = InteractionService(histories, resolve, listeners=[experiments.on_interactions])
    recommender = PersonalRecommender(histories, lambda: trainer.model, experiments, serving_content(recommend), max_k=max_k,
                                      pools=recommend.reader_pool, pools_now=recommend.reader_pool_now,
                                      co_reading=recommend.co_reading,
                                      tastes=memory.profile if memory is not None else None, cached_users=cached_users)
    eraser = None
    if memory is not None:
        eraser = UserEraser(ErasureStore(db), trainer, memory, recommender.ranking_cache, histories)
    return Personalization(store, interactions, trainer, experiments, recommender, histories, eraser)
