"""RecommendForUser on the event loop (PersonalRecommender.recommend_now): it answers only from
kept state, gives the answer the worker path gives, and its recommendation_id is handed out
only once the exposure is committed."""
from __future__ import annotations

import dataclasses
import threading

import pytest

from smartlib_core.domain import Approach, BookFilter
from smartlib_server.adapters.history_cache import HistoryCache
from smartlib_server.domain.personalization import Arm, Experiment, Interaction, InteractionKind as K
from smartlib_server.services.personalization.blend import PersonalRecommender
from smartlib_server.services.personalization.cf import CFModel
from smartlib_server.services.personalization.experiments import ExperimentService
from smartlib_server.services.recommend import WouldBlock

T = 1_780_000_000_000


@pytest.fixture
def histories(interaction_store):
    return HistoryCache(interaction_store)


@pytest.fixture
def make(view, interaction_store, experiment_store, pools, histories):
    served = dataclasses.replace(view, approach=Approach.FINETUNED, model_version="finetuned:test")

    def build(kept: bool = True, ttl: float = 60.0) -> PersonalRecommender:
        experiments = ExperimentService(experiment_store, cache_ttl_s=ttl)
        return PersonalRecommender(histories if kept else interaction_store, CFModel.empty, experiments,
                                   lambda approach: served, pools=pools, cached_users=16 if kept else 0)
    return build


def record(histories, user, book, kind, at):
    histories.add([Interaction(user, book, kind, 0, T + at)])


def ids(result):
    return [i.book.id for i in result.items]


def test_answers_from_kept_state_only_and_as_the_worker_path_does(make, histories, experiment_store):
    loop, fresh = make(), make(kept=False)
    record(histories, "ana", "fan-03", K.LIKE, 1)
    with pytest.raises(WouldBlock):  # nothing kept yet: the history is read by a worker
        loop.recommend_now("ana", 10, BookFilter())
    loop.recommend_for_user("ana", 10, BookFilter())  # the worker path keeps history and ordering
    result, committed = loop.recommend_now("ana", 10, BookFilter(exclude_ids=frozenset({"fan-00"})))
    committed.result(timeout=10)
    expected = fresh.recommend_for_user("ana", 10, BookFilter(exclude_ids=frozenset({"fan-00"})))
    assert ids(result) == ids(expected) and [i.reason for i in result.items] == [i.reason for i in expected.items]
    assert result.model_version == expected.model_version and result.arm == "default"
    assert experiment_store.exposures([result.recommendation_id])[result.recommendation_id].book_ids == tuple(ids(result))


def test_a_new_like_sends_the_next_call_to_a_worker_then_the_loop_answers_it(make, histories):
    loop, fresh = make(), make(kept=False)
    record(histories, "ana", "fan-03", K.LIKE, 1)
    loop.recommend_for_user("ana", 10, BookFilter())
    loop.recommend_now("ana", 10, BookFilter())[1].result(timeout=10)
    record(histories, "ana", "sci-03", K.LIKE, 2)  # seen at once (read-your-own-writes) ...
    with pytest.raises(WouldBlock):  # ... so the kept ordering is stale: ranked afresh on a worker
        loop.recommend_now("ana", 10, BookFilter())
    loop.recommend_for_user("ana", 10, BookFilter())
    result, committed = loop.recommend_now("ana", 10, BookFilter())
    committed.result(timeout=10)
    assert any(b.startswith("sci") for b in ids(result))
    assert ids(result) == ids(fresh.recommend_for_user("ana", 10, BookFilter()))


def test_a_history_no_longer_kept_goes_to_a_worker_even_with_the_ordering_kept(make, histories):
    loop = make()
    record(histories, "ana", "fan-03", K.LIKE, 1)
    loop.recommend_for_user("ana", 10, BookFilter())
    histories.drop_users(lambda user: True)  # evicted (or too old): only a worker reads the database
    with pytest.raises(WouldBlock):
        loop.recommend_now("ana", 10, BookFilter())


def test_an_expired_experiment_or_a_cold_user_goes_to_a_worker(make, histories, experiment_store):
    record(histories, "ana", "fan-03", K.LIKE, 1)
    stale = make(ttl=0.0)
    stale.recommend_for_user("ana", 10, BookFilter())
    with pytest.raises(WouldBlock):  # the running experiment must be read again
        stale.recommend_now("ana", 10, BookFilter())
    loop = make()
    record(histories, "cold", "fan-03", K.DISLIKE, 1)  # no liked book: the popular books (a search)
    loop.recommend_for_user("cold", 10, BookFilter())
    with pytest.raises(WouldBlock):
        loop.recommend_now("cold", 10, BookFilter())


def test_the_id_is_not_handed_out_before_its_exposure_is_committed(make, histories, experiment_store):
    loop = make()
    record(histories, "ana", "fan-03", K.LIKE, 1)
    loop.recommend_for_user("ana", 10, BookFilter())
    release, writing = threading.Event(), threading.Event()
    write = experiment_store._write_exposures

    def slow(exposures):
        writing.set()
        release.wait(10)
        write(exposures)
    experiment_store._exposures._write = slow
    result, committed = loop.recommend_now("ana", 10, BookFilter())
    assert writing.wait(10)
    assert not committed.done() and not experiment_store.exposures([result.recommendation_id])
    release.set()
    committed.result(timeout=10)
    assert result.recommendation_id in experiment_store.exposures([result.recommendation_id])


def test_an_experiment_arm_is_served_on_the_loop_too(make, histories, experiment_store):
    loop = make()
    loop.experiments.create(Experiment("e1", (Arm("a", 1.0), Arm("b", 1.0))))
    record(histories, "ana", "fan-03", K.LIKE, 1)
    loop.recommend_for_user("ana", 10, BookFilter())
    result, committed = loop.recommend_now("ana", 10, BookFilter())
    committed.result(timeout=10)
    assert result.experiment == "e1" and result.arm in ("a", "b")
    assert experiment_store.exposure_counts("e1") == {result.arm: 2}


def test_with_kept_rows_a_changed_history_is_ranked_afresh_on_the_loop_as_a_worker_ranks_it(
        view, interaction_store, experiment_store, pools, histories):
    served = dataclasses.replace(view, approach=Approach.FINETUNED, model_version="finetuned:test")
    kept_rows: dict = {}

    def pools_now(book_id):  # RecommendService.reader_pool_now: a kept row, or a worker's job
        if book_id not in kept_rows:
            raise WouldBlock
        return kept_rows[book_id]

    def build(**kw):
        return PersonalRecommender(kw.pop("store", histories), CFModel.empty, ExperimentService(experiment_store),
                                   lambda approach: served, pools=pools, **kw)
    loop, fresh = build(pools_now=pools_now, cached_users=16), build(store=interaction_store, cached_users=0)
    record(histories, "ana", "fan-03", K.LIKE, 1)
    kept_rows["fan-03"] = pools("fan-03")
    loop.recommend_for_user("ana", 10, BookFilter())  # a worker reads the history in
    record(histories, "ana", "sci-03", K.LIKE, 2)
    with pytest.raises(WouldBlock):  # sci-03's row is not kept: building it is a worker's job
        loop.recommend_now("ana", 10, BookFilter())
    kept_rows["sci-03"] = pools("sci-03")
    for extra in (("his-01", K.CLICK, 3), ("fan-05", K.DISLIKE, 4)):
        record(histories, "ana", extra[0], extra[1], extra[2])
        kept_rows[extra[0]] = pools(extra[0])
        result, committed = loop.recommend_now("ana", 7, BookFilter(exclude_ids=frozenset({"fan-00"})))
        committed.result(timeout=10)
        expected = fresh.recommend_for_user("ana", 7, BookFilter(exclude_ids=frozenset({"fan-00"})))
        assert [(i.book.id, i.score, i.reason) for i in result.items] == [(i.book.id, i.score, i.reason) for i in expected.items]
        assert any(b.startswith("sci") for b in ids(result))
