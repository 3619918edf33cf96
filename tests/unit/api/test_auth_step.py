"""The auth step on fake peers: what a caller from another host gets, on any machine.

A gRPC peer string is all the step knows of where a call comes from, so a context that reports
`ipv4:192.0.2.2:5000` stands for a caller on another host even where this machine has only
loopback (tests/integration/test_secure_defaults.py calls from a real second address when there
is one).
"""
from __future__ import annotations

import asyncio
import logging

import grpc
import pytest

from smartlib.v1 import (
    admin_service_pb2,
    catalog_service_pb2,
    chat_service_pb2,
    interaction_service_pb2,
    recommend_service_pb2,
)
from smartlib_core.errors import ConfigError
from smartlib_server.api.auth_interceptor import (
    ADMIN,
    CONVERSE,
    EXEMPT,
    WRITES,
    AuthDenied,
    AuthInterceptor,
    auth_interceptor,
    check_exposure,
)
from smartlib_server.api.pipeline import Call
from smartlib_server.config import Settings
from smartlib_server.metrics import ServerMetrics

REMOTE = "ipv4:192.0.2.2:5000"
LOCAL = "ipv4:127.0.0.1:5000"
TOKEN = "user-token-7f3a9c1e5b2d4f60"
ADMIN_TOKEN = "admin-token-e41d8cd98f00b204e9800998ecf8427e"
# Every method that is neither a write nor an admin method: answered anonymously where reads are.
READS = {
    "/smartlib.v1.CatalogService/GetBook", "/smartlib.v1.CatalogService/ListBooks",
    "/smartlib.v1.CatalogService/SearchBooks", "/smartlib.v1.RecommendService/SimilarBooks",
    "/smartlib.v1.RecommendService/SearchByText", "/smartlib.v1.RecommendService/RecommendForUser",
    CONVERSE,  # a read until a turn carries a user_id
}


class Aborted(Exception):
    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(code, details)
        self.code, self.details = code, details


class FakeContext:
    def __init__(self, peer: str, token: str | None = None):
        self._peer = peer
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def peer(self) -> str:
        return self._peer

    def invocation_metadata(self):
        return self._metadata

    async def abort(self, code, details):
        raise Aborted(code, details)


def outcome(step: AuthInterceptor, method: str, peer: str = REMOTE, token: str | None = None,
            shape: str = "unary_unary", requests=()) -> grpc.StatusCode:
    """The status the step gives a call: OK when the handler would run (and every request message passed)."""

    async def run() -> grpc.StatusCode:
        call = Call(method, shape, FakeContext(peer, token))
        try:
            async with step.around(call):
                for request in requests:
                    await step.on_request(call, request)
        except Aborted as exc:
            return exc.code
        except AuthDenied as exc:
            return exc.code
        return grpc.StatusCode.OK

    return asyncio.run(run())


def _turn(user_id: str = "") -> chat_service_pb2.ConverseRequest:
    return chat_service_pb2.ConverseRequest(turn=chat_service_pb2.UserTurn(session_id="s", user_id=user_id, text="hi"))


def test_every_method_of_every_service_is_classified():
    """A new method must be declared a write, an admin method or a read here: nothing is open by accident."""
    methods = {
        f"/{service.full_name}/{method.name}"
        for module in (admin_service_pb2, catalog_service_pb2, chat_service_pb2, interaction_service_pb2, recommend_service_pb2)
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }
    admin = {m for m in methods if m.startswith(ADMIN)}
    assert WRITES <= methods and not WRITES & admin and not READS & (WRITES | admin)
    assert methods == READS | WRITES | admin
    assert len(admin) == 10 and len(WRITES) == 3


# -- issue 28 item 4: the admin refusal for a caller from another host ---------------------------
def test_admin_without_an_admin_token_refuses_a_remote_peer_and_answers_a_local_one(caplog):
    step = AuthInterceptor("", "")
    caplog.set_level(logging.WARNING)
    assert outcome(step, "/smartlib.v1.AdminService/GetStats", REMOTE) == grpc.StatusCode.PERMISSION_DENIED
    assert "not loopback" in caplog.text
    assert outcome(step, "/smartlib.v1.InteractionService/ForgetUser", REMOTE) == grpc.StatusCode.PERMISSION_DENIED
    assert outcome(step, "/smartlib.v1.AdminService/GetStats", LOCAL) == grpc.StatusCode.OK
    assert outcome(step, "/smartlib.v1.AdminService/GetStats", "ipv6:[fd00::2]:5000") == grpc.StatusCode.PERMISSION_DENIED


def test_admin_with_only_an_ordinary_token_still_answers_loopback_only():
    step = AuthInterceptor(TOKEN, "")
    assert outcome(step, "/smartlib.v1.AdminService/GetStats", REMOTE, TOKEN) == grpc.StatusCode.PERMISSION_DENIED
    assert outcome(step, "/smartlib.v1.AdminService/GetStats", LOCAL, TOKEN) == grpc.StatusCode.OK
    assert outcome(step, "/smartlib.v1.AdminService/GetStats", LOCAL) == grpc.StatusCode.UNAUTHENTICATED


def test_the_admin_token_opens_admin_methods_from_anywhere():
    step = AuthInterceptor("", ADMIN_TOKEN, public=True, anonymous_reads=True)
    assert outcome(step, "/smartlib.v1.AdminService/ActivateVersion", REMOTE, ADMIN_TOKEN) == grpc.StatusCode.OK
    assert outcome(step, "/smartlib.v1.AdminService/ActivateVersion", REMOTE) == grpc.StatusCode.UNAUTHENTICATED
    assert outcome(step, "/smartlib.v1.AdminService/ActivateVersion", REMOTE, "x" * 40) == grpc.StatusCode.PERMISSION_DENIED


# -- closed writes on a public bind -----------------------------------------------------------
@pytest.fixture
def public_admin_only() -> AuthInterceptor:
    """A server on 0.0.0.0 with only an admin token and SMARTLIB_ALLOW_ANONYMOUS_READS=true."""
    settings = Settings(grpc_host="0.0.0.0", admin_token=ADMIN_TOKEN, allow_anonymous_reads=True)
    return auth_interceptor(settings)


@pytest.mark.parametrize("method", sorted(WRITES))
def test_a_write_from_another_host_needs_a_token(public_admin_only, method):
    assert outcome(public_admin_only, method, REMOTE) == grpc.StatusCode.UNAUTHENTICATED
    assert outcome(public_admin_only, method, REMOTE, "not-the-admin-token-at-all") == grpc.StatusCode.PERMISSION_DENIED
    assert outcome(public_admin_only, method, REMOTE, ADMIN_TOKEN) == grpc.StatusCode.OK


def test_the_bind_decides_not_the_peer(public_admin_only):
    """Behind a sidecar proxy every caller arrives from loopback: a public bind's writes stay closed."""
    assert outcome(public_admin_only, "/smartlib.v1.CatalogService/UpsertBooks", LOCAL) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("method", sorted(READS - {CONVERSE}))
def test_reads_answer_anonymously_when_allowed(public_admin_only, method):
    assert outcome(public_admin_only, method, REMOTE) == grpc.StatusCode.OK


def test_a_chat_turn_that_stores_tastes_needs_a_token(public_admin_only):
    shape = "stream_stream"
    assert outcome(public_admin_only, CONVERSE, REMOTE, shape=shape, requests=[_turn()]) == grpc.StatusCode.OK
    cancel = chat_service_pb2.ConverseRequest(cancel=chat_service_pb2.CancelTurn())
    assert outcome(public_admin_only, CONVERSE, REMOTE, shape=shape, requests=[_turn(), cancel]) == grpc.StatusCode.OK
    assert outcome(public_admin_only, CONVERSE, REMOTE, shape=shape,
                   requests=[_turn(), _turn("reader-1")]) == grpc.StatusCode.UNAUTHENTICATED
    assert outcome(public_admin_only, CONVERSE, REMOTE, ADMIN_TOKEN, shape=shape,
                   requests=[_turn("reader-1")]) == grpc.StatusCode.OK


def test_with_an_ordinary_token_and_anonymous_reads_that_token_opens_writes():
    step = AuthInterceptor(TOKEN, ADMIN_TOKEN, public=True, anonymous_reads=True)
    assert outcome(step, "/smartlib.v1.CatalogService/GetBook", REMOTE) == grpc.StatusCode.OK
    assert outcome(step, "/smartlib.v1.CatalogService/UpsertBooks", REMOTE) == grpc.StatusCode.UNAUTHENTICATED
    assert outcome(step, "/smartlib.v1.CatalogService/UpsertBooks", REMOTE, TOKEN) == grpc.StatusCode.OK


def test_without_anonymous_reads_every_ordinary_call_needs_the_token():
    step = AuthInterceptor(TOKEN, ADMIN_TOKEN, public=True)
    for method in sorted(READS | WRITES):
        assert outcome(step, method, REMOTE, shape="unary_unary") == grpc.StatusCode.UNAUTHENTICATED, method
        assert outcome(step, method, REMOTE, TOKEN) == grpc.StatusCode.OK, method


def test_a_loopback_bind_keeps_writes_open_without_an_ordinary_token():
    """Unchanged on 127.0.0.1: a developer's server with only an admin token takes writes from local tools."""
    step = auth_interceptor(Settings(admin_token=ADMIN_TOKEN))
    assert outcome(step, "/smartlib.v1.CatalogService/UpsertBooks", LOCAL) == grpc.StatusCode.OK
    assert outcome(step, CONVERSE, LOCAL, shape="stream_stream", requests=[_turn("reader-1")]) == grpc.StatusCode.OK


def test_health_is_exempt_everywhere(public_admin_only):
    assert outcome(public_admin_only, EXEMPT[0] + "Check", REMOTE) == grpc.StatusCode.OK


# -- start-up ---------------------------------------------------------------------------------
def test_a_public_bind_with_only_an_admin_token_refuses_to_start_and_says_what_to_set():
    metrics = ServerMetrics()
    with pytest.raises(ConfigError) as info:
        check_exposure(Settings(grpc_host="0.0.0.0", admin_token=ADMIN_TOKEN), metrics)
    message = str(info.value)
    assert "SMARTLIB_AUTH_TOKEN" in message and "SMARTLIB_ALLOW_ANONYMOUS_READS=true" in message
    assert ADMIN_TOKEN not in message


def test_allowing_anonymous_reads_warns_and_sets_the_gauge(caplog):
    caplog.set_level(logging.WARNING)
    metrics = ServerMetrics()
    check_exposure(Settings(grpc_host="0.0.0.0", admin_token=ADMIN_TOKEN, allow_anonymous_reads=True), metrics)
    assert metrics.anonymous_reads._value.get() == 1 and metrics.insecure._value.get() == 0
    assert [r for r in caplog.records if "SMARTLIB_ALLOW_ANONYMOUS_READS=true" in r.getMessage()]
    for closed in (Settings(grpc_host="0.0.0.0", auth_token=TOKEN, admin_token=ADMIN_TOKEN),
                   Settings(admin_token=ADMIN_TOKEN, allow_anonymous_reads=True)):  # loopback: nothing to flag
        check_exposure(closed, metrics)
        assert metrics.anonymous_reads._value.get() == 0
