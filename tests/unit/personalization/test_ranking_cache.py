"""RecommendForUser keeps each user's scored candidates between calls (ranking_cache.py): the
answers must be those of a recommender that keeps nothing, whatever changed in between, and
every call still logs its exposure."""
from __future__ import annotations

import dataclasses

import pytest

from smartlib_core.co_reading import CoReading
from smartlib_core.domain import Approach, BookFilter
from smartlib_server.adapters.erasure_store import ErasureStore
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.domain.personalization import Interaction, InteractionKind as K
from smartlib_server.services.personalization.blend import PersonalRecommender
from smartlib_server.services.personalization.cf import CFModel, CFTrainer
from smartlib_server.services.personalization.erasure import UserEraser
from smartlib_server.services.personalization.experiments import ExperimentService
from smartlib_server.services.personalization.reader_blend import series_table
from smartlib_server.services.recommend.vector_index import VectorIndex

T = 1_780_000_000_000


@pytest.fixture
def content(view, catalog):
    """The served view, replaceable by a test (a catalog write, an encoder swap)."""
    box = {"view": dataclasses.replace(view, approach=Approach.FINETUNED, model_version="finetuned:test"), "graph": None}
    return box


@pytest.fixture
def make(content, interaction_store, experiment_store, pools):
    def build(cached_users: int = 16) -> PersonalRecommender:
        experiments = ExperimentService(experiment_store, cache_ttl_s=0)
        return PersonalRecommender(interaction_store, CFModel.empty, experiments, lambda approach: content["view"],
                                   pools=pools, co_reading=lambda: content["graph"], cached_users=cached_users)
    return build


@pytest.fixture
def log(interaction_store):
    clock = iter(range(10_000))

    def add(user, book, kind, rating=0):
        interaction_store.add([Interaction(user, book, kind, rating, T + next(clock))])
    return add


def ids(result):
    return [i.book.id for i in result.items]


def answer(recommender, user="ana", k=10, filt=BookFilter()):
    result = recommender.recommend_for_user(user, k, filt)
    return ids(result), [i.reason for i in result.items], [i.score for i in result.items]


def test_a_repeat_call_is_answered_from_the_kept_ranking_and_still_logs_its_exposure(make, log, experiment_store):
    cached, fresh = make(), make(cached_users=0)
    log("ana", "fan-03", K.LIKE)
    log("ana", "sci-05", K.RATE, 5)
    first = cached.recommend_for_user("ana", 10, BookFilter())
    second = cached.recommend_for_user("ana", 10, BookFilter())
    assert (cached.ranking_cache.misses, cached.ranking_cache.hits) == (1, 1)
    assert ids(first) == ids(second) and answer(cached) == answer(fresh)
    assert first.recommendation_id != second.recommendation_id
    assert set(experiment_store.exposures([first.recommendation_id, second.recommendation_id])) == {
        first.recommendation_id, second.recommendation_id}


def test_k_and_the_filter_apply_to_every_call_not_to_what_is_kept(make, log):
    cached, fresh = make(), make(cached_users=0)
    log("ana", "fan-03", K.LIKE)
    log("ana", "his-02", K.LIKE)
    top = answer(cached)[0]
    narrow = BookFilter(exclude_ids=frozenset(top[:3]))
    for k, filt in ((10, narrow), (4, BookFilter()), (20, BookFilter(include_genres=frozenset({"history"})))):
        assert answer(cached, k=k, filt=filt) == answer(fresh, k=k, filt=filt)
    assert not set(top[:3]) & set(answer(cached, filt=narrow)[0])
    assert cached.ranking_cache.hits == 4


def test_a_new_interaction_changes_the_answer(make, log):
    cached, fresh = make(), make(cached_users=0)
    log("ana", "fan-03", K.LIKE)
    before = answer(cached)
    log("ana", "sci-03", K.LIKE)
    after = answer(cached)
    assert after != before and any(b.startswith("sci") for b in after[0])
    assert after == answer(fresh)
    shown = after[0][0]
    log("ana", shown, K.READ)  # read since: never recommended again
    log("ana", after[0][1], K.DISMISS)
    again = answer(cached)
    assert shown not in again[0] and after[0][1] not in again[0] and again == answer(fresh)


def test_a_dislike_that_moves_no_liked_book_still_changes_the_answer(make, log):
    cached, fresh = make(), make(cached_users=0)
    log("ana", "fan-03", K.LIKE)
    log("ana", "sci-03", K.LIKE)
    log("ana", "sci-19", K.VIEW)  # newest already: the dislike below leaves every liked book's recency
    before = answer(cached)
    log("ana", "sci-19", K.DISLIKE)  # its row's head (the genre's best) are near twins now
    after = answer(cached)
    assert after != before and after == answer(fresh)


def test_a_catalog_write_or_another_served_index_recomputes(make, log, content, catalog, view):
    cached = make()
    log("ana", "fan-03", K.LIKE)
    answer(cached)
    content["view"] = dataclasses.replace(content["view"], catalog_version=2)  # a catalog write
    answer(cached)
    assert (cached.ranking_cache.misses, cached.ranking_cache.hits) == (2, 0)
    swapped = VectorIndex(view.index.dim)  # another encoder or catalog, even at the same versions
    content["view"] = dataclasses.replace(content["view"], index=swapped)
    answer(cached)
    assert (cached.ranking_cache.misses, cached.ranking_cache.hits) == (3, 0)
    answer(cached)
    assert cached.ranking_cache.hits == 1


def test_another_co_reading_graph_at_the_same_versions_recomputes(make, log, content):
    cached, fresh = make(), make(cached_users=0)
    log("ana", "fan-03", K.LIKE)
    content["graph"] = CoReading.from_lists([["fan-03", "his-07", "sci-11"]] * 3)
    paired = answer(cached)
    assert paired == answer(fresh) and {"his-07", "sci-11"} <= set(paired[0])
    content["graph"] = None  # the encoder's graph taken away, nothing else changed (an operator's swap)
    assert answer(cached) == answer(fresh) != paired


def test_forget_user_drops_the_users_kept_ranking(make, log, sqlite_db, interaction_store):
    cached = make()
    eraser = UserEraser(ErasureStore(sqlite_db), CFTrainer(interaction_store), InProcessConversationMemory(),
                        cached.ranking_cache)
    for user in ("ana", "bob"):
        log(user, "fan-03", K.LIKE)
        answer(cached, user)
    assert len(cached.ranking_cache) == 2 and cached.ranking_cache.kept_users() == {"ana", "bob"}
    eraser.forget_user("ana")
    assert cached.ranking_cache.kept_users() == {"bob"}  # neither the ordering nor the history's fold
    assert len(cached.ranking_cache) == 1 and cached.ranking_cache.drop_users(lambda user: user == "bob") == 1


def test_the_oldest_user_leaves_beyond_the_bound(make, log):
    cached = make(cached_users=2)
    for user in ("ana", "bob", "cid"):
        log(user, "fan-03", K.LIKE)
        answer(cached, user)
    assert len(cached.ranking_cache) == 2
    answer(cached, "ana")
    assert cached.ranking_cache.misses == 4


def test_the_catalogs_series_table_is_kept_until_the_catalog_version_moves(make, log, content, catalog):
    cached = make()
    log("ana", "fan-03", K.LIKE)
    log("ana", "fan-07", K.DISLIKE)
    first = cached.series(content["view"])
    assert cached.series(content["view"]) is first
    renamed = dataclasses.replace(catalog["fan-01"], series_name="A Saga Written Today")
    content["view"] = dataclasses.replace(content["view"], books={**catalog, "fan-01": renamed}, catalog_version=2)
    assert cached.series(content["view"])["fan-01"] == renamed.series_key != first["fan-01"]
    assert answer(cached) == answer(make(cached_users=0))
    renamed_table = cached.series(content["view"])
    assert renamed_table.members(renamed.series_key) == ["fan-01"]  # the new table's inverse, not the old one's


def test_a_series_table_lists_each_series_books_as_its_members(catalog):
    books = {b: dataclasses.replace(book, series_name=("Saga One", "Saga Two", "")[i % 3])
             for i, (b, book) in enumerate(catalog.items())}
    table = series_table(books)
    keys = {table[b] for b in catalog} - {""}
    assert len(keys) == 2
    for key in keys:
        assert sorted(table.members(key)) == sorted(b for b in catalog if table[b] == key) != []
    assert table.members("no such series") == [] and table["no such book"] == ""
