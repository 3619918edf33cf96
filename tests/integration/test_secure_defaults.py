"""Secure by default: a server reachable from other hosts needs a token or an explicit opt-out,
admin methods without an admin token answer loopback callers only, and health answers on its
own port however many RPC slots the main port has in use."""
from __future__ import annotations

import dataclasses
import logging
import os
import socket
import subprocess
import sys

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from smartlib.v1 import admin_service_pb2 as ad, admin_service_pb2_grpc
from smartlib_core.errors import ConfigError
from smartlib_server.api.auth_interceptor import check_exposure, is_loopback_host, is_loopback_peer
from smartlib_server.config import Settings
from smartlib_server.metrics import ServerMetrics

TOKEN = "user-token-7f3a9c1e5b2d4f60"
SERVING = health_pb2.HealthCheckResponse.SERVING


def _own_address() -> str:
    """This machine's address on its default route: reachable, but not loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.254", 9))  # no packet is sent: this only picks the source address
        except OSError:
            pytest.skip("no non-loopback IPv4 address to call from")
        address = s.getsockname()[0]
    if is_loopback_host(address) or address == "0.0.0.0":
        pytest.skip("no non-loopback IPv4 address to call from")
    return address


@pytest.mark.parametrize("host, loopback", [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.0.2.2", False), ("server.example", False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize("peer, loopback", [
    ("ipv4:127.0.0.1:5000", True), ("ipv6:[::1]:5000", True), ("ipv6:[::ffff:127.0.0.1]:5000", True),
    ("unix:/tmp/s.sock", True), ("ipv4:192.0.2.2:5000", False), ("ipv6:[fd00::2]:5000", False), ("", False),
])
def test_loopback_peers(peer, loopback):
    assert is_loopback_peer(peer) is loopback


def test_a_non_loopback_bind_without_tokens_refuses_to_start():
    metrics = ServerMetrics()
    with pytest.raises(ConfigError) as info:
        check_exposure(Settings(grpc_host="0.0.0.0"), metrics)
    message = str(info.value)
    assert "SMARTLIB_AUTH_TOKEN" in message and "SMARTLIB_ALLOW_INSECURE=true" in message and "make secrets" in message
    # Only an admin token on a public bind needs its own opt-out (tests/unit/api/test_auth_step.py).
    for safe in (Settings(), Settings(grpc_host="0.0.0.0", auth_token=TOKEN),
                 Settings(grpc_host="0.0.0.0", admin_token="a" * 32, allow_anonymous_reads=True)):
        check_exposure(safe, metrics)
        assert metrics.insecure._value.get() == 0


def test_the_cli_refuses_to_serve_on_all_interfaces_without_tokens(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTLIB_")}
    env.update(SMARTLIB_HOME=str(tmp_path), SMARTLIB_GRPC_HOST="0.0.0.0", SMARTLIB_GRPC_PORT="0", HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "smartlib_server", "serve"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "SMARTLIB_ALLOW_INSECURE=true" in done.stderr


@pytest.fixture
def exposed(make_server, starter_settings, caplog):
    """A server on 0.0.0.0 with no token at all, opted out explicitly."""
    caplog.set_level(logging.WARNING)
    settings = dataclasses.replace(starter_settings, grpc_host="0.0.0.0", allow_insecure=True)
    return make_server(settings, load=False)


def test_the_opt_out_warns_and_sets_the_gauge(exposed, caplog):
    warned = [r for r in caplog.get_records("setup") if r.levelno == logging.WARNING and "ALLOW_INSECURE" in r.getMessage()]
    assert len(warned) == 1  # the server started in the fixture
    assert exposed.services.metrics.insecure._value.get() == 1


def _stats(address: str, metadata=()):
    with grpc.insecure_channel(address) as channel:
        return admin_service_pb2_grpc.AdminServiceStub(channel).GetStats(ad.GetStatsRequest(), metadata=metadata, timeout=30)


def test_admin_without_an_admin_token_answers_loopback_only(exposed):
    assert _stats(f"127.0.0.1:{exposed.app.port}").books >= 0
    with pytest.raises(grpc.RpcError) as info:
        _stats(f"{_own_address()}:{exposed.app.port}")
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "loopback" in info.value.details()


def test_admin_with_only_an_ordinary_token_answers_loopback_only(make_server, starter_settings):
    settings = dataclasses.replace(starter_settings, grpc_host="0.0.0.0", auth_token=TOKEN)
    server = make_server(settings, load=False)
    bearer = (("authorization", f"Bearer {TOKEN}"),)
    assert _stats(f"127.0.0.1:{server.app.port}", bearer).books >= 0
    with pytest.raises(grpc.RpcError) as info:
        _stats(f"127.0.0.1:{server.app.port}")
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED  # the ordinary token still applies
    with pytest.raises(grpc.RpcError) as info:
        _stats(f"{_own_address()}:{server.app.port}", bearer)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_health_answers_on_its_own_port_while_every_rpc_slot_is_held(make_server, starter_settings):
    # Backstop = 8 x 1 + 1 = 9 RPCs on the main port; health Watch streams are exempt from
    # admission, so nine of them hold every slot.
    settings = dataclasses.replace(starter_settings, max_concurrent_rpcs=1, max_streams=1)
    server = make_server(settings)
    slots = 8 * settings.max_concurrent_rpcs + settings.max_streams
    main = grpc.insecure_channel(server.address)
    watches = []
    try:
        stub = health_pb2_grpc.HealthStub(main)
        for _ in range(slots):
            watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=60)
            assert next(watch).status == SERVING  # running on the server: it holds a slot
            watches.append(watch)
        with pytest.raises(grpc.RpcError) as info:  # the main port is full, its health check included
            stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        with grpc.insecure_channel(f"127.0.0.1:{server.app.health_port}") as probe:
            health = health_pb2_grpc.HealthStub(probe)
            for service in ("", "smartlib.v1.RecommendService", "smartlib.v1.CatalogService"):
                assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status == SERVING
    finally:
        for watch in watches:
            watch.cancel()
        main.close()


ADMIN_TOKEN = "admin-token-e41d8cd98f00b204e9800998ecf8427e"


@pytest.fixture
def anonymous_reads(make_server, starter_settings, caplog):
    """A server on 0.0.0.0 with only an admin token, serving reads to anyone by explicit choice."""
    caplog.set_level(logging.WARNING)
    settings = dataclasses.replace(starter_settings, grpc_host="0.0.0.0", admin_token=ADMIN_TOKEN, allow_anonymous_reads=True)
    return make_server(settings)


def test_writes_from_another_host_need_a_token_while_reads_do_not(anonymous_reads, caplog):
    from smartlib.v1 import (
        catalog_service_pb2 as cs,
        catalog_service_pb2_grpc,
        chat_service_pb2 as chat,
        chat_service_pb2_grpc,
        interaction_service_pb2 as ins,
        interaction_service_pb2_grpc,
    )

    assert anonymous_reads.services.metrics.anonymous_reads._value.get() == 1
    assert [r for r in caplog.get_records("setup") if "SMARTLIB_ALLOW_ANONYMOUS_READS=true" in r.getMessage()]
    admin = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
    book = cs.UpsertBooksRequest(books=[{"title": "A Remote Atlas", "authors": ["Nobody"], "genres": ["Fantasy"]}])
    with grpc.insecure_channel(f"{_own_address()}:{anonymous_reads.app.port}") as channel:
        catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        found = catalog.SearchBooks(cs.SearchBooksRequest(query="the hobbit", limit=1), timeout=30)  # a read: anonymous
        assert "Hobbit" in found.books[0].title
        writes = [
            lambda md: catalog.UpsertBooks(book, metadata=md, timeout=60),
            lambda md: catalog.DeleteBook(cs.DeleteBookRequest(id=found.books[0].id), metadata=md, timeout=30),
            lambda md: interaction_service_pb2_grpc.InteractionServiceStub(channel).RecordInteractions(
                ins.RecordInteractionsRequest(interactions=[ins.Interaction(
                    user_id="u1", book_id=found.books[0].id, kind=ins.INTERACTION_KIND_LIKE)]), metadata=md, timeout=30),
        ]
        for write in writes:
            with pytest.raises(grpc.RpcError) as info:
                write(())
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED and "writes need one" in info.value.details()
        assert catalog.GetBook(cs.GetBookRequest(id=found.books[0].id), timeout=30).id == found.books[0].id  # not deleted
        assert catalog.UpsertBooks(book, metadata=admin, timeout=60).created == 1  # the token opens writes

        stub = chat_service_pb2_grpc.ChatServiceStub(channel)

        def converse(user_id: str, metadata=()):
            turn = chat.ConverseRequest(turn=chat.UserTurn(session_id="remote-1", user_id=user_id, text="books like the hobbit"))
            events = stub.Converse(iter([turn]), metadata=metadata, timeout=60)
            return [event.WhichOneof("kind") for event in events]

        assert converse("")[-1] == "done"  # an anonymous session stores no tastes: a read
        with pytest.raises(grpc.RpcError) as info:
            converse("reader-1")  # remembering reader-1's tastes is a write
        assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert converse("reader-1", admin)[-1] == "done"
