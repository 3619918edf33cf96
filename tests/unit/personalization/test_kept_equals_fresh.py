"""What RecommendForUser keeps between calls (the history's fold, the ordering, the CF reasons'
anchors, the numbered rows) must never change an answer: on random histories that grow one event
at a time, as a backend's readers click, like, rate and dismiss what they are shown, every answer
of a recommender that keeps everything equals the one ranked from scratch by a recommender that
keeps nothing, to the last bit of every score and the words of every reason."""
from __future__ import annotations

import dataclasses
import random

import pytest

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Approach, BookFilter
from smartlib_server.adapters.history_cache import HistoryCache
from smartlib_server.domain.personalization import Interaction, InteractionKind as K
from smartlib_server.services.personalization.blend import PersonalRecommender
from smartlib_server.services.personalization.cf import train
from smartlib_server.services.personalization.experiments import ExperimentService
from smartlib_server.services.personalization.reader_blend import liked_and_disliked
from smartlib_server.services.personalization.reasons import title
from smartlib_server.services.recommend import WouldBlock

T = 1_780_000_000_000
KINDS = (K.CLICK, K.CLICK, K.CLICK, K.LIKE, K.RATE, K.READ, K.VIEW, K.DISLIKE, K.DISMISS)


@pytest.fixture
def world(catalog, view):
    """Kept reader rows (the same objects on every call, as the server's are) whose logits take a
    few values, so candidates tie; a CF model and a co-reading graph over the same books."""
    rng = random.Random(3)
    ids = list(catalog)
    rows = {}
    for book in ids:
        members = rng.sample([b for b in ids if b != book], 30)
        rows[book] = (members, sorted((rng.choice([0.0, -0.5, -1.0, -2.0]) for _ in members), reverse=True))
    pairs = {(f"other{u}", b): rng.choice([0.3, 1.0]) for u in range(60) for b in rng.sample(ids, 15)}
    graph = CoReading.from_lists([rng.sample(ids, rng.randint(3, 8)) for _ in range(25)])
    served = dataclasses.replace(view, approach=Approach.FINETUNED, model_version="finetuned:test")
    return rows, train(pairs, "cf@40"), graph, served


def test_every_answer_of_the_kept_path_is_the_one_ranked_from_scratch(world, interaction_store, experiment_store, catalog):
    rows, model, graph, served = world
    histories = HistoryCache(interaction_store)

    def build(interactions, cached_users):
        return PersonalRecommender(interactions, lambda: model, ExperimentService(experiment_store, cache_ttl_s=60),
                                   lambda approach: served, pools=rows.get, co_reading=lambda: graph,
                                   cached_users=cached_users)
    kept, fresh = build(histories, 16), build(interaction_store, 0)
    rng = random.Random(5)
    ids = list(catalog)
    shown: dict[str, list[str]] = {}
    on_loop = 0
    reasons = {"also read": 0, "also liked": 0, "because you": 0}  # CF, the co-reading graph, the rows
    for step in range(300):
        user = f"reader{rng.randrange(6)}"
        if rng.random() < 0.4 or user not in shown:  # an event, often on a book just shown
            kind = rng.choice(KINDS)
            book = rng.choice(shown.get(user) or ids) if rng.random() < 0.7 else rng.choice(ids)
            histories.add([Interaction(user, book, kind, rng.randint(1, 5) if kind is K.RATE else 0, T + step)])
        k = rng.randint(3, 15)
        filt = BookFilter(exclude_ids=frozenset(rng.sample(ids, rng.randint(0, 3))))
        try:
            got, committed = kept.recommend_now(user, k, filt)
            committed.result(timeout=10)
            on_loop += 1
        except WouldBlock:
            got = kept.recommend_for_user(user, k, filt)
        expected = fresh.recommend_for_user(user, k, filt)
        assert [(i.book.id, i.score, i.reason) for i in got.items] == [(i.book.id, i.score, i.reason) for i in expected.items]
        assert got.model_version == expected.model_version
        _cf_reasons_name_what_because_of_names(got, model, interaction_store.user_history(user), catalog)
        shown[user] = [i.book.id for i in got.items]
        for words in reasons:
            reasons[words] += sum(words in i.reason for i in got.items)
    assert on_loop > 100 and kept.ranking_cache.hits > 100  # the kept path answered most calls
    assert min(reasons.values()) > 20, reasons  # every source carried picks and named their books


def _cf_reasons_name_what_because_of_names(result, model, history, catalog) -> None:
    """The CF reasons against the scalar CFModel.because_of, apart from both recommenders (which
    share the code that keeps the anchors)."""
    liked, _ = liked_and_disliked(history)
    for item in result.items:
        if item.reason.startswith("readers of "):
            anchor = model.because_of(item.book.id, liked)
            assert item.reason == f"readers of {title(catalog[anchor])} also read {title(item.book)}"
