"""RecommendForUser's reader ranking on the synthetic catalog, with reader rows made by hand: each
book's row is the other books of its genre, most popular first (the real rows are the reader
ranker's; tests/integration/test_personal_readers_api.py serves those)."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Approach, BookFilter
from smartlib_server.domain.personalization import Interaction, InteractionKind as K
from smartlib_server.services.personalization.blend import PersonalRecommender
from smartlib_server.services.personalization.cf import CFModel
from smartlib_server.services.personalization.experiments import DEFAULT_ARM, ExperimentService
from smartlib_server.services.personalization.reader_blend import liked_and_disliked

T = 1_780_000_000_000


def history(*events):
    return [Interaction("ana", book, kind, rating, T + i) for i, (book, kind, rating) in enumerate(events)]


@pytest.fixture
def finetuned_view(view):
    return dataclasses.replace(view, approach=Approach.FINETUNED, model_version="finetuned:test")


@pytest.fixture
def pools(catalog):
    def pool(book_id):
        genre = catalog[book_id].genres[0] if book_id in catalog else None
        if genre is None:
            return None
        ids = [b for b in catalog if b != book_id and catalog[b].genres[0] == genre]
        return ids, [float(-i) for i in range(len(ids))]
    return pool


@pytest.fixture
def recommender(finetuned_view, interaction_store, experiment_store, pools):
    experiments = ExperimentService(experiment_store, cache_ttl_s=0)
    return PersonalRecommender(interaction_store, CFModel.empty, experiments, lambda approach: finetuned_view,
                               pools=pools)


def ranked(recommender, events, k=10, arm=DEFAULT_ARM):
    items, _, version = recommender.ranked(history(*events), k, BookFilter(), arm)
    return items, version


def test_one_like_serves_its_row_and_names_it(recommender, catalog):
    items, version = ranked(recommender, [("fan-03", K.LIKE, 0)])
    assert version.endswith("+readers")
    assert [i.book.id for i in items] == [b for b in catalog if b.startswith("fan") and b != "fan-03"][:10]
    assert {i.reason for i in items} == {"because you liked Fantasy Book 3"}


def test_the_users_own_books_never_come_back(recommender):
    own = [("fan-03", K.LIKE, 0), ("fan-00", K.READ, 0), ("fan-01", K.DISMISS, 0), ("fan-02", K.RATE, 2),
           ("his-00", K.RATE, 5), ("his-01", K.DISLIKE, 0)]
    items, _ = ranked(recommender, own, k=60)
    assert len(items) == 54 and not {b for b, _, _ in own} & {i.book.id for i in items}


def test_two_liked_genres_share_the_list_and_each_book_names_its_source(recommender):
    items, _ = ranked(recommender, [("fan-03", K.LIKE, 0), ("his-05", K.RATE, 5)])
    sources = {i.book.genres[0]: i.reason for i in items}
    assert sources == {"Fantasy": "because you liked Fantasy Book 3", "History": "because you liked History Book 5"}


def test_a_disliked_books_near_twins_are_pushed_down(recommender):
    liked = [("fan-03", K.LIKE, 0), ("sci-03", K.LIKE, 0)]
    before = [i.book.id for i in ranked(recommender, liked, k=20)[0]]
    after = [i.book.id for i in ranked(recommender, [*liked, ("sci-10", K.DISLIKE, 0)], k=20)[0]]
    twins = [b for b in before[:10] if b.startswith("sci")]  # sci-10's row head is its genre's top
    assert len(twins) == 5
    assert all(after.index(b) > before.index(b) for b in twins)
    assert sum(b.startswith("sci") for b in after[:10]) < 5


def test_no_liked_book_falls_back_to_popular_books(recommender):
    items, version = ranked(recommender, [("fan-03", K.DISLIKE, 0)])
    assert not version.endswith("+readers") and all(i.reason.startswith("popular") for i in items)


def test_an_arm_can_ask_for_the_blend(recommender):
    arm = dataclasses.replace(DEFAULT_ARM, name="old", ranking="blend")
    _, version = ranked(recommender, [("fan-03", K.LIKE, 0)], arm=arm)
    assert not version.endswith("+readers")


def test_weights_follow_rating_kind_and_recency():
    liked, disliked = liked_and_disliked(history(("a", K.RATE, 5), ("b", K.RATE, 4), ("c", K.CLICK, 0),
                                                 ("d", K.LIKE, 0), ("d", K.DISLIKE, 0), ("e", K.RATE, 1)))
    assert set(liked) == {"a", "b", "c"} and disliked == ["e", "d"]
    assert liked["a"] > liked["b"] > liked["c"]
    newer, _ = liked_and_disliked(history(("a", K.LIKE, 0), *[(f"x{i}", K.VIEW, 0) for i in range(20)], ("z", K.LIKE, 0)))
    assert newer["z"] == pytest.approx(2 * newer["a"], rel=0.05)  # 20 books later, half the weight


def test_the_co_reading_graph_brings_what_readers_liked_together_and_says_so(
        finetuned_view, interaction_store, experiment_store, pools, catalog):
    # Readers' lists put a history book beside Fantasy Book 3: no fantasy row holds it.
    graph = CoReading.from_lists([["fan-03", "his-05"], ["fan-03", "his-05", "fan-04"]], "two lists")
    experiments = ExperimentService(experiment_store, cache_ttl_s=0)
    with_graph = PersonalRecommender(interaction_store, CFModel.empty, experiments, lambda approach: finetuned_view,
                                     pools=pools, co_reading=lambda: graph)
    items, version = ranked(with_graph, [("fan-03", K.LIKE, 0)])
    found = next(i for i in items if i.book.id == "his-05")
    assert found.reason == f"readers who liked Fantasy Book 3 also liked {catalog['his-05'].title}"
    assert version.endswith("+readers")
    without, _ = ranked(with_graph, [("his-00", K.LIKE, 0)])  # a book the graph does not know: rows alone
    plain, _ = ranked(PersonalRecommender(interaction_store, CFModel.empty, experiments,
                                          lambda approach: finetuned_view, pools=pools), [("his-00", K.LIKE, 0)])
    assert [i.book.id for i in without] == [i.book.id for i in plain]
