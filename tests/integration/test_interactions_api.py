"""Interactions, RecommendForUser and experiments through real gRPC, over the starter catalog."""
from __future__ import annotations

import dataclasses

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from smartlib.v1 import (
    admin_service_pb2 as adm,
    admin_service_pb2_grpc,
    catalog_service_pb2,
    catalog_service_pb2_grpc,
    interaction_service_pb2 as ints,
    interaction_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)

pytestmark = pytest.mark.timeout(900)  # the session fixture embeds the starter catalog; slow on a busy machine


class PersonalApp:
    """The server's own personalisation services, as the tests need to reach them."""

    def __init__(self, running):
        self.personal = running.services.personalization
        self.personal.experiments.cache_ttl_s = 0  # tests create and stop experiments back to back
        self.metrics = running.services.metrics
        self.address = running.address


@pytest.fixture
def app(make_server, starter_settings):
    # CF trains once at load; the tests call refresh() themselves instead of waiting an interval.
    running = make_server(dataclasses.replace(starter_settings, cf_retrain_interval_s=3600))
    return PersonalApp(running)


@pytest.fixture
def stubs(app):
    with grpc.insecure_channel(app.address) as channel:
        yield (
            catalog_service_pb2_grpc.CatalogServiceStub(channel),
            recommend_service_pb2_grpc.RecommendServiceStub(channel),
            interaction_service_pb2_grpc.InteractionServiceStub(channel),
            admin_service_pb2_grpc.AdminServiceStub(channel),
        )


def _id(catalog, title: str) -> str:
    return catalog.SearchBooks(catalog_service_pb2.SearchBooksRequest(query=title, limit=1)).books[0].id


def _violations(err: grpc.RpcError) -> dict[str, str]:
    out = {}
    for detail in rpc_status.from_call(err).details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            out.update({v.field: v.description for v in bad.field_violations})
    return out


def test_a_batch_keeps_valid_items_and_names_each_bad_field(app, stubs):
    catalog, _, interactions, _ = stubs
    dune = _id(catalog, "Dune")
    reply = interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=[
        ints.Interaction(user_id="ana", book_id=dune, kind=ints.INTERACTION_KIND_LIKE),
        ints.Interaction(user_id="ana", book_id="gr-missing", kind=ints.INTERACTION_KIND_READ),
        ints.Interaction(user_id="ana", book_id=dune, kind=ints.INTERACTION_KIND_UNSPECIFIED),
        ints.Interaction(user_id="ana", book_id=dune, kind=ints.INTERACTION_KIND_RATE, rating=9),
        ints.Interaction(user_id="ana", book_id=dune, kind=ints.INTERACTION_KIND_RATE, rating=4),
    ]))
    assert reply.accepted == 2
    assert [(r.index, r.field) for r in reply.rejected] == [
        (1, "interactions[1].book_id"), (2, "interactions[2].kind"), (3, "interactions[3].rating"),
    ]
    stored = app.personal.store.user_history("ana")
    assert [(e.book_id, e.kind.value, e.rating) for e in stored] == [(dune, "like", 0), (dune, "rate", 4)]


def test_a_new_user_gets_popular_books_an_arm_and_a_recommendation_id(stubs):
    _, recommend, _, _ = stubs
    reply = recommend.RecommendForUser(rs.RecommendForUserRequest(user_id="newcomer", k=8))
    assert len(reply.items) == 8 and reply.arm == "default" and len(reply.recommendation_id) == 32
    assert "+cf@" in reply.model_version and reply.model_version.startswith("baseline:")
    assert all(item.reason in ("popular with readers",) for item in reply.items)
    ranks = [item.book.list_rank for item in reply.items]
    assert max(ranks) <= 30  # the starter list's top books


def test_history_steers_and_excludes(app, stubs):
    catalog, recommend, interactions, _ = stubs
    liked = {title: _id(catalog, title) for title in ("Dune", "Foundation", "Hyperion", "Ender's Game", "The Martian")}
    interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=[
        ints.Interaction(user_id="sf-fan", book_id=book_id, kind=ints.INTERACTION_KIND_LIKE) for book_id in liked.values()
    ]))
    reply = recommend.RecommendForUser(rs.RecommendForUserRequest(user_id="sf-fan", k=10))
    ids = [item.book.id for item in reply.items]
    assert not set(liked.values()) & set(ids)
    sci_fi = sum("Science Fiction" in item.book.genres for item in reply.items)
    assert sci_fi >= 7, [(i.book.title, i.reason) for i in reply.items]
    personal = [i.reason for i in reply.items if i.reason.startswith("because you liked ")]
    assert personal and {r.removeprefix("because you liked ") for r in personal} <= set(liked), personal
    dismissed = ids[0]
    interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=[
        ints.Interaction(user_id="sf-fan", book_id=dismissed, kind=ints.INTERACTION_KIND_DISMISS,
                         recommendation_id=reply.recommendation_id),
    ]))
    again = recommend.RecommendForUser(rs.RecommendForUserRequest(user_id="sf-fan", k=10))
    assert dismissed not in [item.book.id for item in again.items]


def test_co_reading_shows_up_after_cf_retrains(app, stubs):
    catalog, recommend, interactions, _ = stubs
    dune, pride = _id(catalog, "Dune"), _id(catalog, "Pride and Prejudice")
    batch = [
        ints.Interaction(user_id=f"reader-{u}", book_id=book, kind=ints.INTERACTION_KIND_READ)
        for u in range(12) for book in (dune, pride)
    ]
    assert interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=batch)).accepted == 24
    interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=[
        ints.Interaction(user_id="newbie", book_id=dune, kind=ints.INTERACTION_KIND_LIKE),
    ]))
    # One liked book is thin evidence, so popular books of Dune's genres still lead; CF has to
    # lift a romance classic into the list from nowhere.
    request = rs.RecommendForUserRequest(user_id="newbie", k=40)
    before = recommend.RecommendForUser(request)
    assert pride not in {item.book.id for item in before.items}  # content and genre alone never get there
    assert app.personal.trainer.refresh()
    after = recommend.RecommendForUser(request)
    assert after.model_version.endswith(f"+{app.personal.trainer.model.version}") and after.model_version != before.model_version
    by_id = {item.book.id: item.reason for item in after.items}
    assert by_id.get(pride) == "readers of Dune also read Pride and Prejudice", by_id


def test_experiment_lifecycle_and_results(app, stubs):
    catalog, recommend, interactions, admin = stubs
    created = admin.CreateExperiment(adm.CreateExperimentRequest(experiment=adm.Experiment(name="cf-vs-content", arms=[
        adm.ExperimentArm(name="blend", weight=1, cf_weight=0.5, content_weight=0.5),
        adm.ExperimentArm(name="content", weight=1, cf_weight=0.0, content_weight=1.0),
    ])))
    assert created.running and created.created_at.seconds > 0 and not created.HasField("stopped_at")
    assert [e.name for e in admin.ListExperiments(adm.ListExperimentsRequest()).experiments] == ["cf-vs-content"]
    replies = {u: recommend.RecommendForUser(rs.RecommendForUserRequest(user_id=u, k=5)) for u in ("u1", "u2", "u3", "u4", "u5", "u6")}
    assert {r.arm for r in replies.values()} == {"blend", "content"}
    assert recommend.RecommendForUser(rs.RecommendForUserRequest(user_id="u1", k=5)).arm == replies["u1"].arm
    clicked = replies["u1"]
    interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=[
        ints.Interaction(user_id="u1", book_id=clicked.items[0].book.id, kind=ints.INTERACTION_KIND_CLICK,
                         recommendation_id=clicked.recommendation_id),
        ints.Interaction(user_id="u1", book_id=clicked.items[1].book.id, kind=ints.INTERACTION_KIND_LIKE,
                         recommendation_id=clicked.recommendation_id),
    ]))
    results = admin.GetExperimentResults(adm.GetExperimentResultsRequest(name="cf-vs-content"))
    arms = {a.name: a for a in results.arms}
    exposures = {arm: sum(r.arm == arm for r in replies.values()) + (arm == clicked.arm) for arm in arms}
    assert {a: arms[a].exposures for a in arms} == exposures
    assert (arms[clicked.arm].clicks, arms[clicked.arm].likes) == (1, 1)
    assert arms[clicked.arm].ctr.rate == pytest.approx(1 / exposures[clicked.arm])
    assert arms[clicked.arm].ctr.low < arms[clicked.arm].ctr.rate < arms[clicked.arm].ctr.high
    assert 0 < results.ctr_p_value <= 1
    get = app.metrics.registry.get_sample_value
    assert get("smartlib_experiment_outcomes_total", {"experiment": "cf-vs-content", "arm": clicked.arm, "outcome": "like"}) == 1
    stopped = admin.StopExperiment(adm.StopExperimentRequest(name="cf-vs-content"))
    assert not stopped.running and stopped.HasField("stopped_at")
    assert recommend.RecommendForUser(rs.RecommendForUserRequest(user_id="u1", k=5)).arm == "default"


def test_bad_experiments_and_requests_are_invalid_argument(stubs):
    _, recommend, interactions, admin = stubs
    with pytest.raises(grpc.RpcError) as info:
        admin.CreateExperiment(adm.CreateExperimentRequest(experiment=adm.Experiment(name="x", arms=[
            adm.ExperimentArm(name="a", weight=0), adm.ExperimentArm(name="b", weight=1, cf_weight=2),
        ])))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(_violations(info.value)) == {"experiment.arms[0].weight", "experiment.arms[1].cf_weight"}
    with pytest.raises(grpc.RpcError) as info:
        admin.GetExperimentResults(adm.GetExperimentResultsRequest(name="nope"))
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as info:
        recommend.RecommendForUser(rs.RecommendForUserRequest(user_id="", k=5))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and set(_violations(info.value)) == {"user_id"}
    with pytest.raises(grpc.RpcError) as info:
        too_many = [ints.Interaction(user_id="a", book_id="b", kind=ints.INTERACTION_KIND_VIEW)] * 1001
        interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=too_many))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and set(_violations(info.value)) == {"interactions"}
