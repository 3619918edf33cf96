"""Hypothesis-generated requests for every RPC in the smartlib.v1 protos, plus raw random bytes.

Requests are built from the message descriptors, so new fields and methods are fuzzed without
editing this file: random and huge strings, Unicode, empty values, extreme and negative
numbers, NaN, unknown enum values, oversized repeated fields. Whatever the input, the server
must answer with a caller-facing status (never INTERNAL or UNKNOWN, never a class path or a
traceback, never UNIMPLEMENTED, never the client's 30 s timeout) and keep serving.

SMARTLIB_FUZZ_EXAMPLES (default 12) sets the examples per method; `make fuzz` runs more.
"""
from __future__ import annotations

import os
import shutil

import grpc
import pytest
from google.protobuf import descriptor as pbd
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from smartlib.v1 import (
    admin_service_pb2,
    catalog_service_pb2,
    chat_service_pb2,
    interaction_service_pb2,
    recommend_service_pb2,
)
from smartlib_server.app import build_services
from smartlib_server.background import BackgroundServer
from smartlib_server.config import Settings

MODULES = (catalog_service_pb2, recommend_service_pb2, chat_service_pb2, interaction_service_pb2, admin_service_pb2)
EXAMPLES = int(os.environ.get("SMARTLIB_FUZZ_EXAMPLES", "12"))
# Statuses that mean "the server broke", not "the caller sent something wrong".
SERVER_FAULTS = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS,
                 # Every declared method is served, and no input may hang a call for the 30 s the
                 # client waits: either would otherwise pass as "a caller-facing status".
                 grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.DEADLINE_EXCEEDED}
# Too slow to repeat per example: it re-embeds the whole catalog. The admin tests cover it.
SLOW = {"/smartlib.v1.AdminService/RebuildIndex"}


def _methods() -> list[pbd.MethodDescriptor]:
    return [m for module in MODULES for service in module.DESCRIPTOR.services_by_name.values() for m in service.methods]


def _path(method: pbd.MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


# -- strategies from descriptors ------------------------------------------------------------
NASTY_TEXT = st.one_of(
    st.sampled_from(["", " ", "\t\n", "\x00", "a\x00b", "' OR 1=1 --", "../../etc/passwd", "%s%n%x", "\u202e\u0301",
                     "null", "-1", "gr-", "Harry Potter", "harry potter", "ㅎㅏㄴ글"]),
    # Built by repetition so a failure report shows the recipe, not kilobytes of text.
    st.sampled_from([("🐉", 300), ("x", 5000), ("ß", 513), ("f", 200), ("a", 129)]).map(lambda pair: pair[0] * pair[1]),
)
TEXT = st.one_of(st.text(max_size=40), NASTY_TEXT, st.text(min_size=500, max_size=3000))
INT32 = st.one_of(st.sampled_from([0, -1, 1, 10, 100, 101, 500, 501, 1000, 1001, -(2**31), 2**31 - 1]), st.integers(-(2**31), 2**31 - 1))
INT64 = st.one_of(INT32, st.sampled_from([-(2**63), 2**63 - 1]), st.integers(-(2**63), 2**63 - 1))
UINT64 = st.integers(0, 2**64 - 1)
DOUBLE = st.floats(allow_nan=True, allow_infinity=True)
FLOAT = st.floats(allow_nan=True, allow_infinity=True, width=32)
FD = pbd.FieldDescriptor
SCALARS = {
    FD.TYPE_STRING: TEXT, FD.TYPE_BYTES: st.binary(max_size=64), FD.TYPE_BOOL: st.booleans(),
    FD.TYPE_INT32: INT32, FD.TYPE_SINT32: INT32, FD.TYPE_SFIXED32: INT32,
    FD.TYPE_INT64: INT64, FD.TYPE_SINT64: INT64, FD.TYPE_SFIXED64: INT64,
    FD.TYPE_UINT32: st.integers(0, 2**32 - 1), FD.TYPE_FIXED32: st.integers(0, 2**32 - 1),
    FD.TYPE_UINT64: UINT64, FD.TYPE_FIXED64: UINT64, FD.TYPE_DOUBLE: DOUBLE, FD.TYPE_FLOAT: FLOAT,
}


def _single(field: pbd.FieldDescriptor, depth: int) -> st.SearchStrategy:
    if field.type == FD.TYPE_ENUM:  # proto3 enums are open: any int32 goes on the wire
        known = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(known), INT32)
    if field.type == FD.TYPE_MESSAGE:
        return _message(field.message_type, depth + 1)
    return SCALARS[field.type]


def _is_map(field: pbd.FieldDescriptor) -> bool:
    return field.type == FD.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def _zero(field: pbd.FieldDescriptor):
    """The cheapest element of a repeated field; None stands for an empty sub-message."""
    return {FD.TYPE_MESSAGE: None, FD.TYPE_STRING: "", FD.TYPE_BYTES: b"", FD.TYPE_BOOL: False}.get(field.type, 0)


def _field(field: pbd.FieldDescriptor, depth: int) -> st.SearchStrategy:
    if _is_map(field):
        key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
        return st.dictionaries(_single(key, depth), _single(value, depth), max_size=3)
    if field.is_repeated:
        element = _single(field, depth)
        # A few elements, or far more than any limit (cheap ones, so the test stays fast).
        return st.one_of(st.lists(element, max_size=3), st.lists(st.just(_zero(field)), min_size=1001, max_size=1001))
    return _single(field, depth)


def _message(descriptor: pbd.Descriptor, depth: int = 0) -> st.SearchStrategy:
    from google.protobuf import message_factory

    cls = message_factory.GetMessageClass(descriptor)
    if depth > 3:
        return st.just(cls())
    fields = {f.name: _field(f, depth) for f in descriptor.fields}

    def build(values: dict) -> Message:
        message = cls()
        for name, value in values.items():
            target = getattr(message, name)
            if _is_map(descriptor.fields_by_name[name]):
                for k, v in value.items():
                    if isinstance(v, Message):
                        target[k].CopyFrom(v)
                    else:
                        target[k] = v
            elif isinstance(value, list):
                for item in value:
                    if item is None:
                        target.add()
                    elif isinstance(item, Message):
                        target.add().CopyFrom(item)
                    else:
                        target.append(item)
            elif isinstance(value, Message):
                target.CopyFrom(value)
            else:
                setattr(message, name, value)
        return message

    return st.fixed_dictionaries({}, optional=fields).map(build)


# -- the server under fuzz ------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory, starter_sqlite, inference):
    """One loaded server for the whole module: examples must not pay a start-up each."""
    home = tmp_path_factory.mktemp("fuzz") / "home"
    home.mkdir()
    shutil.copy(starter_sqlite, home / "catalog.sqlite3")
    settings = Settings(home=home, grpc_port=0, model_store=home / "model_store", max_concurrent_rpcs=64, max_streams=16)
    server = BackgroundServer(settings, build_services(settings, inference=inference))
    server.load()
    channel = server.channel()
    yield channel
    channel.close()
    server.stop()


def _check_status(error: grpc.RpcError, path: str) -> None:
    assert error.code() not in SERVER_FAULTS, (path, error.code(), error.details())
    details = error.details() or ""
    assert "Traceback" not in details and "<class" not in details, (path, details)


def _call(channel: grpc.Channel, method: pbd.MethodDescriptor, payload, raw: bool = False) -> None:
    path = _path(method)
    serialize = (lambda b: b) if raw else (lambda m: m.SerializeToString())
    try:
        if method.client_streaming and method.server_streaming:
            call = channel.stream_stream(path, request_serializer=serialize, response_deserializer=lambda b: b)
            for _ in call(iter(payload), timeout=30):
                pass
        elif method.client_streaming:
            channel.stream_unary(path, request_serializer=serialize, response_deserializer=lambda b: b)(iter(payload), timeout=30)
        elif method.server_streaming:
            for _ in channel.unary_stream(path, request_serializer=serialize, response_deserializer=lambda b: b)(payload, timeout=30):
                pass
        else:
            channel.unary_unary(path, request_serializer=serialize, response_deserializer=lambda b: b)(payload, timeout=30)
    except grpc.RpcError as error:
        _check_status(error, path)


def _assert_serving(channel: grpc.Channel) -> None:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


FUZZ = hsettings(
    max_examples=EXAMPLES, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
METHODS = [m for m in _methods() if _path(m) not in SLOW]


@pytest.mark.parametrize("method", METHODS, ids=_path)
def test_generated_requests_never_break_the_server(fuzzed, method):
    request = _message(method.input_type)
    payload = st.lists(request, min_size=1, max_size=3) if method.client_streaming else request

    @FUZZ
    @given(payload)
    def run(value):
        _call(fuzzed, method, value)

    run()
    _assert_serving(fuzzed)


@pytest.mark.parametrize("method", METHODS, ids=_path)
def test_random_bytes_never_break_the_server(fuzzed, method):
    chunk = st.binary(max_size=300)
    payload = st.lists(chunk, min_size=1, max_size=3) if method.client_streaming else chunk

    @FUZZ
    @given(payload)
    def run(value):
        _call(fuzzed, method, value, raw=True)

    run()
    _assert_serving(fuzzed)


def test_a_message_over_the_size_limit_is_refused_cleanly(fuzzed):
    huge = catalog_service_pb2.SearchBooksRequest(query="x" * (5 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as info:
        fuzzed.unary_unary("/smartlib.v1.CatalogService/SearchBooks", request_serializer=lambda m: m.SerializeToString())(huge, timeout=30)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    _assert_serving(fuzzed)


def test_a_chat_stream_with_bytes_that_do_not_parse_ends_at_once_with_invalid_argument(fuzzed):
    """Hypothesis found this one: a valid empty message, then bytes that do not parse. The chat
    reads its requests in its own task, so the refusal must reach the handler's task; it once
    left the stream open until the deadline."""
    converse = fuzzed.stream_stream("/smartlib.v1.ChatService/Converse", request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
    for _ in range(20):
        with pytest.raises(grpc.RpcError) as info:
            for _ in converse(iter([b"", b"?}\xd9", b"?}\xd9"]), timeout=10):
                pass
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    _assert_serving(fuzzed)
