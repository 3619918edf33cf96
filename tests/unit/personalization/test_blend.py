"""RecommendForUser's blend on a synthetic catalog whose vectors encode genre."""
from __future__ import annotations

import pytest

from smartlib_core.domain import BookFilter
from smartlib_core.errors import InvalidArgument
from smartlib_core.popularity import catalog_popularity
from smartlib_server.domain.personalization import BlendWeights, Interaction, InteractionKind as K
from smartlib_server.services.personalization.blend import PersonalRecommender, rank
from smartlib_server.services.personalization.cf import CFModel, train
from smartlib_server.services.personalization.experiments import ExperimentService
from smartlib_server.services.personalization.popularity import CatalogPriors

T = 1_780_000_000_000


def history(*events):
    return [Interaction("ana", book, kind, rating, T + i) for i, (book, kind, rating) in enumerate(events)]


def genres(items):
    return [i.book.genres[0] for i in items]


@pytest.fixture
def priors(catalog):
    return CatalogPriors(catalog, 1)


def test_no_history_gives_the_most_popular_books(view, priors):
    items = rank([], 5, BookFilter(), view, CFModel.empty(), priors, BlendWeights())
    assert len(items) == 5
    size = len(view.books)
    by_popularity = sorted(view.books, key=lambda b: -catalog_popularity(view.books[b].list_rank, view.books[b].num_ratings, size))
    assert [i.book.id for i in items] == by_popularity[:5]
    assert items[0].book.id == "fan-00"  # first in the list and in the top ratings tier
    assert all(i.reason == "popular with readers" for i in items)


def test_one_liked_book_steers_towards_its_genre(view, priors):
    items = rank(history(("fan-10", K.LIKE, 0)), 10, BookFilter(), view, CFModel.empty(), priors, BlendWeights())
    assert "fan-10" not in [i.book.id for i in items]
    assert genres(items).count("Fantasy") >= 8
    # One book is thin evidence: popular books of its genre lead, explained either way.
    assert {i.reason for i in items if i.book.genres[0] == "Fantasy"} <= {"popular in Fantasy", "because you liked Fantasy Book 10"}
    content_led = rank(history(("fan-10", K.LIKE, 0)), 10, BookFilter(), view, CFModel.empty(), priors, BlendWeights(popularity=0.0))
    assert any(i.reason == "because you liked Fantasy Book 10" for i in content_led)


def test_five_interactions_exclude_read_dismissed_and_disliked(view, priors):
    events = history(
        ("sci-00", K.READ, 0), ("sci-01", K.LIKE, 0), ("sci-02", K.RATE, 5),
        ("sci-03", K.DISMISS, 0), ("sci-04", K.DISLIKE, 0), ("sci-05", K.CLICK, 0),
    )
    items = rank(events, 10, BookFilter(), view, CFModel.empty(), priors, BlendWeights())
    ids = [i.book.id for i in items]
    assert not {"sci-00", "sci-01", "sci-02", "sci-03", "sci-04"} & set(ids)
    assert genres(items).count("Science Fiction") >= 8
    assert items[0].book.id in {"sci-05", "sci-06", "sci-07"}  # popular, unseen, in the genre
    assert any(i.reason.startswith(("because you liked", "because you read")) for i in items)


def test_fifty_interactions_still_fill_k_without_repeats(view, priors):
    events = history(*[(f"his-{i:02d}", K.READ, 0) for i in range(20)], *[(f"fan-{i:02d}", K.READ, 0) for i in range(18)],
                     *[(f"fan-{i:02d}", K.LIKE, 0) for i in range(12)])
    assert len(events) == 50
    items = rank(events, 10, BookFilter(), view, CFModel.empty(), priors, BlendWeights())
    ids = [i.book.id for i in items]
    assert len(ids) == 10 == len(set(ids))
    assert {"fan-18", "fan-19"} <= set(ids)  # the only unread books of the user's genres
    assert not any(b.startswith("his") for b in ids)  # every history book is read


def test_cf_finds_what_content_cannot_and_says_why(view, priors):
    # Other readers pair five fantasy books with a history book; content alone never links them.
    liked = [f"fan-{i:02d}" for i in range(5)]
    pairs = {(f"r{u}", b): 1.0 for u in range(8) for b in (*liked, "his-01")}
    model = train(pairs, "cf@9")
    events = history(*[(b, K.LIKE, 0) for b in liked])
    blended = rank(events, 10, BookFilter(), view, model, priors, BlendWeights())
    by_id = {i.book.id: i for i in blended}
    assert "his-01" in by_id, [(i.book.id, i.score, i.reason) for i in blended]
    assert by_id["his-01"].reason.startswith("readers of Fantasy Book ") and by_id["his-01"].reason.endswith(" also read History Book 1")
    content_only = rank(events, 10, BookFilter(), view, model, priors, BlendWeights(cf=0.0))
    assert not any(i.book.genres[0] == "History" for i in content_only)


def test_filter_is_respected_even_when_it_leaves_few_candidates(view, priors):
    flt = BookFilter(include_genres=frozenset({"history"}), exclude_ids=frozenset({"his-00"}))
    items = rank(history(("fan-01", K.LIKE, 0)), 15, flt, view, CFModel.empty(), priors, BlendWeights())
    assert len(items) == 15 and set(genres(items)) == {"History"} and "his-00" not in {i.book.id for i in items}


def test_recommender_logs_an_exposure_per_response(view, interaction_store, experiment_store):
    experiments = ExperimentService(experiment_store, cache_ttl_s=0)
    recommender = PersonalRecommender(interaction_store, CFModel.empty, experiments, lambda approach: view)
    interaction_store.add(history(("his-03", K.LIKE, 0)))
    result = recommender.recommend_for_user("ana", 4, BookFilter())
    assert result.arm == "default" and result.experiment == "" and len(result.recommendation_id) == 32
    assert result.model_version == "baseline:test+cf@0"
    exposure = experiment_store.exposures([result.recommendation_id])[result.recommendation_id]
    assert exposure.user_id == "ana" and exposure.book_ids == tuple(i.book.id for i in result.items)
    assert recommender.recommend_for_user("ana", 4, BookFilter()).recommendation_id != result.recommendation_id
    with pytest.raises(InvalidArgument) as err:
        recommender.recommend_for_user("", 4, BookFilter())
    assert set(err.value.violations) == {"user_id"}
    with pytest.raises(InvalidArgument):
        recommender.recommend_for_user("ana", 0, BookFilter())
