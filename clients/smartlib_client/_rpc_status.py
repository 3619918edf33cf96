"""Decodes the google.rpc.Status a server attaches as `grpc-status-details-bin`.

The client promises to need only grpcio, protobuf and pandas, so instead of depending on
googleapis-common-protos it declares the three google.rpc messages it reads (Status,
BadRequest, RetryInfo) in a private descriptor pool. Field numbers match google/rpc/*.proto;
a private pool cannot clash with googleapis-common-protos when both are imported.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, duration_pb2, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _build_pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for dep in (any_pb2, duration_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        dep.DESCRIPTOR.CopyToProto(proto)
        pool.Add(proto)

    fdp = descriptor_pb2.FileDescriptorProto(
        name="smartlib_client/google_rpc_subset.proto",
        package="google.rpc",
        syntax="proto3",
        dependency=["google/protobuf/any.proto", "google/protobuf/duration.proto"],
    )

    def add(msg, name, number, ftype, label=_F.LABEL_OPTIONAL, type_name=""):
        f = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:  # setting it at all, even to "", marks a scalar as a message field
            f.type_name = type_name

    status = fdp.message_type.add(name="Status")
    add(status, "code", 1, _F.TYPE_INT32)
    add(status, "message", 2, _F.TYPE_STRING)
    add(status, "details", 3, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".google.protobuf.Any")

    bad = fdp.message_type.add(name="BadRequest")
    violation = bad.nested_type.add(name="FieldViolation")
    add(violation, "field", 1, _F.TYPE_STRING)
    add(violation, "description", 2, _F.TYPE_STRING)
    add(violation, "reason", 3, _F.TYPE_STRING)
    add(bad, "field_violations", 1, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".google.rpc.BadRequest.FieldViolation")

    retry = fdp.message_type.add(name="RetryInfo")
    add(retry, "retry_delay", 1, _F.TYPE_MESSAGE, type_name=".google.protobuf.Duration")
    pool.Add(fdp)
    return pool


_POOL = _build_pool()
Status = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("google.rpc.Status"))
BadRequest = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("google.rpc.BadRequest"))
RetryInfo = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("google.rpc.RetryInfo"))

DETAILS_KEY = "grpc-status-details-bin"


@dataclass
class StatusDetails:
    """What the client understood from a status's details."""

    violations: dict[str, str] = field(default_factory=dict)  # field path -> description
    retry_after: float | None = None  # seconds, from RetryInfo


def parse_details(trailing_metadata) -> StatusDetails:
    """Reads BadRequest and RetryInfo out of trailing metadata; unknown or broken details are ignored."""
    details = StatusDetails()
    raw = next((value for key, value in trailing_metadata or () if key == DETAILS_KEY), None)
    if not raw:
        return details
    status = Status()
    try:
        status.ParseFromString(raw)
    except Exception:  # a malformed trailer must not hide the real status code
        return details
    for item in status.details:
        type_name = item.type_url.rpartition("/")[2]
        if type_name == "google.rpc.BadRequest":
            bad = BadRequest()
            bad.ParseFromString(item.value)
            for v in bad.field_violations:
                details.violations[v.field] = v.description
        elif type_name == "google.rpc.RetryInfo":
            retry = RetryInfo()
            retry.ParseFromString(item.value)
            details.retry_after = retry.retry_delay.seconds + retry.retry_delay.nanos / 1e9
    return details
