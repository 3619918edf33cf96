"""InteractionService.ForgetUser over gRPC: two replicas sharing PostgreSQL, conversation memory
in Redis or in each process, every store checked afterwards, and again after a replica restart."""
from __future__ import annotations

import dataclasses
import time
import uuid

import grpc
import pytest
import redis
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from smartlib.v1 import (
    admin_service_pb2 as adm,
    admin_service_pb2_grpc,
    books_pb2,
    interaction_service_pb2 as ints,
    interaction_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_server.adapters.memory.contract import user_digest

from .test_replicas import shared_catalog  # noqa: F401  (fixture: the starter catalog in PostgreSQL)

pytestmark = pytest.mark.postgres
REDIS_URL = "redis://127.0.0.1:6379/0"
GONE, KEPT = "reader-forget-me", "reader-keep-me"


@pytest.fixture(params=["memory", "redis"])
def replica_settings(request, starter_settings, shared_catalog):  # noqa: F811
    """Settings for replicas sharing the PostgreSQL catalog; memory in-process or in Redis."""
    env = f"forget-{uuid.uuid4().hex[:10]}"
    redis_url = REDIS_URL if request.param == "redis" else ""
    base = dataclasses.replace(starter_settings, database_url=shared_catalog, redis_url=redis_url, environment=env,
                               cf_retrain_interval_s=3600)  # tests refresh CF themselves
    yield lambda name: dataclasses.replace(base, home=base.home.parent / name)
    if redis_url:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"smartlib:{env}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _stubs(channel):
    return (interaction_service_pb2_grpc.InteractionServiceStub(channel), recommend_service_pb2_grpc.RecommendServiceStub(channel),
            admin_service_pb2_grpc.AdminServiceStub(channel))


def _book_ids(server, n: int) -> list[str]:
    return sorted(server.services.index.books)[:n]


def _give_history(server, channel, user: str, books: list[str]) -> None:
    interactions, recommend, _ = _stubs(channel)
    kinds = (ints.INTERACTION_KIND_LIKE, ints.INTERACTION_KIND_READ, ints.INTERACTION_KIND_CLICK)
    items = [ints.Interaction(user_id=user, book_id=b, kind=kinds[i % 3]) for i, b in enumerate(books)]
    assert interactions.RecordInteractions(ints.RecordInteractionsRequest(interactions=items)).accepted == len(items)
    recommend.RecommendForUser(rs.RecommendForUserRequest(user_id=user, k=5))  # an exposure with its arm
    memory = server.services.memory
    for session in (f"{user}-s1", f"{user}-s2"):
        memory.append_turn(session, {"user": "recommend fantasy"})
        memory.link_session(user, session)  # what the chat agent does for a turn with a user_id
    memory.remember(user, liked=books[:2], liked_genres=["fantasy"])


def _exposures(server, user: str) -> int:
    with server.services.store.db.tx() as cur:
        return int(cur.one("SELECT COUNT(*) FROM exposures WHERE user_id = ?", (user,))[0])


def _held_anywhere(server, user: str) -> list[str]:
    """Every store of `server` that still holds something of `user`."""
    services = server.services
    found = []
    if services.personalization.store.user_history(user):
        found.append("interactions")
    if _exposures(server, user):
        found.append("exposures")
    if services.memory.recent_turns(f"{user}-s1", 10) or services.memory.recent_turns(f"{user}-s2", 10):
        found.append("chat sessions")
    if not services.memory.profile(user).is_empty:
        found.append("chat tastes")
    if services.personalization.trainer.knows_user(user):
        found.append("cf preferences")
    return found


def _until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "not true in time"
        time.sleep(0.05)


def _personal_items(channel, user: str) -> list[str]:
    reply = _stubs(channel)[1].RecommendForUser(rs.RecommendForUserRequest(user_id=user, k=10))
    return [item.book.id for item in reply.items]


def test_forget_user_erases_every_store_in_every_replica(make_server, replica_settings):
    a, b = make_server(replica_settings("a")), make_server(replica_settings("b"))
    for server in (a, b):
        server.services.follow_changes(interval=0.1)
    with a.channel() as ca, b.channel() as cb:
        admin = _stubs(ca)[2]
        arms = [adm.ExperimentArm(name="control", weight=1.0),
                adm.ExperimentArm(name="treatment", weight=1.0, approach=books_pb2.APPROACH_BASELINE)]
        admin.CreateExperiment(adm.CreateExperimentRequest(experiment=adm.Experiment(name=f"e{uuid.uuid4().hex[:6]}", arms=arms)))
        books = _book_ids(a, 12)
        _give_history(a, ca, GONE, books[:6])
        _give_history(b, cb, KEPT, books[6:])
        _stubs(cb)[1].RecommendForUser(rs.RecommendForUserRequest(user_id=GONE, k=5))  # an exposure logged by B
        if b.services.memory.backend == "memory":  # in-process memory: B holds its own copy of GONE's chats
            b.services.memory.append_turn(f"{GONE}-s1", {"user": "hello from b"})
            b.services.memory.link_session(GONE, f"{GONE}-s1")
            b.services.memory.remember(GONE, liked_genres=["horror"])
        for server in (a, b):
            server.services.personalization.trainer.refresh()
            assert _held_anywhere(server, GONE) == ["interactions", "exposures", "chat sessions", "chat tastes", "cf preferences"]

        reply = _stubs(ca)[0].ForgetUser(ints.ForgetUserRequest(user_id=GONE))

        assert (reply.interactions, reply.experiment_exposures, reply.chat_sessions) == (6, 2, 2)
        assert reply.chat_taste_entries == 3 and reply.cf_preferences == 6
        assert _held_anywhere(a, GONE) == []
        _until(lambda: _held_anywhere(b, GONE) == [])  # B follows the erasure log
        for server in (a, b):  # nobody else was touched (in-process memory: KEPT chatted on B only)
            shared = server is b or server.services.memory.backend == "redis"
            chats = ["chat sessions", "chat tastes"] if shared else []
            assert _held_anywhere(server, KEPT) == ["interactions", "exposures", *chats, "cf preferences"]
        admin.StopExperiment(adm.StopExperimentRequest(name=admin.ListExperiments(adm.ListExperimentsRequest()).experiments[0].name))
        a.services.personalization.experiments.cache_ttl_s = b.services.personalization.experiments.cache_ttl_s = 0
        stranger = f"never-seen-{uuid.uuid4().hex[:6]}"
        served = _personal_items(cb, GONE)
        assert len(served) == 10 and served == _personal_items(cb, stranger)  # served as a new user
        again = _stubs(ca)[0].ForgetUser(ints.ForgetUserRequest(user_id=GONE))  # GONE's visit just now was logged
        assert again.interactions == 0 and again.experiment_exposures == 1

    b.stop()
    restarted = make_server(replica_settings("b"))
    restarted.services.personalization.trainer.refresh()
    assert _held_anywhere(restarted, GONE) == []
    assert "interactions" in _held_anywhere(restarted, KEPT) and restarted.services.personalization.trainer.knows_user(KEPT)
    with restarted.channel() as channel:
        served = _personal_items(channel, GONE)
        assert len(served) == 10 and served == _personal_items(channel, f"never-seen-{uuid.uuid4().hex[:6]}")


def test_erasures_from_before_a_start_are_not_replayed(make_server, replica_settings):
    a = make_server(replica_settings("a"))
    with a.channel() as channel:
        _stubs(channel)[0].ForgetUser(ints.ForgetUserRequest(user_id=GONE))
    b = make_server(replica_settings("b"))
    b.services.memory.remember(GONE, liked_genres=["fantasy"])  # GONE comes back, on B, after the erasure
    assert b.services.personalization.eraser.follow() == 0
    assert not b.services.memory.profile(GONE).is_empty


# -- errors and access ---------------------------------------------------------------------------------
def test_forget_user_validates_the_id(server, channel):
    interactions = _stubs(channel)[0]
    for bad in ("", "   ", "x" * 129, "nul\x00user"):
        with pytest.raises(grpc.RpcError) as info:
            interactions.ForgetUser(ints.ForgetUserRequest(user_id=bad))
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        violations = rpc_status.from_call(info.value).details
        bad_request = error_details_pb2.BadRequest()
        violations[0].Unpack(bad_request)
        assert [v.field for v in bad_request.field_violations] == ["user_id"]
    assert interactions.ForgetUser(ints.ForgetUserRequest(user_id="nobody")) == ints.ForgetUserResponse()


def test_forget_user_needs_the_admin_token(make_server, starter_settings):
    token, admin = "user-token-7f3a9c1e5b2d4f60", "admin-token-e41d8cd98f00b204e9800998ecf8427e"
    server = make_server(dataclasses.replace(starter_settings, auth_token=token, admin_token=admin), load=False)
    with server.channel() as channel:
        stub = _stubs(channel)[0]
        request = ints.ForgetUserRequest(user_id=GONE)
        with pytest.raises(grpc.RpcError) as info:
            stub.ForgetUser(request, metadata=(("authorization", f"Bearer {token}"),))
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.RpcError) as info:
            stub.ForgetUser(request)
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert stub.ForgetUser(request, metadata=(("authorization", f"Bearer {admin}"),)) == ints.ForgetUserResponse()


def test_unreachable_memory_is_unavailable_and_erases_nothing(make_server, starter_settings):
    dead = dataclasses.replace(starter_settings, memory_redis_url="redis://127.0.0.1:1/0", cf_retrain_interval_s=3600)
    server = make_server(dead)
    with server.channel() as channel:
        book = _book_ids(server, 1)[0]
        _stubs(channel)[0].RecordInteractions(ints.RecordInteractionsRequest(
            interactions=[ints.Interaction(user_id=GONE, book_id=book, kind=ints.INTERACTION_KIND_LIKE)]))
        with pytest.raises(grpc.RpcError) as info:
            _stubs(channel)[0].ForgetUser(ints.ForgetUserRequest(user_id=GONE))
        assert info.value.code() == grpc.StatusCode.UNAVAILABLE
        assert len(server.services.personalization.store.user_history(GONE)) == 1  # retry erases it all
        assert user_digest(GONE) not in str(info.value.details())


def test_the_python_client_forgets_a_user(server):
    from smartlib_client import SmartLibrary

    book = _book_ids(server, 1)[0]
    with SmartLibrary(server.address, timeout=30) as client:
        client.record({"user_id": GONE, "book_id": book, "kind": "like"})
        removed = client.forget_user(GONE)
        assert removed == {"interactions": 1, "experiment_exposures": 0, "chat_sessions": 0, "chat_taste_entries": 0,
                           "cf_preferences": 0}
        assert client.forget_user(GONE)["interactions"] == 0
    assert server.services.personalization.store.user_history(GONE) == []
