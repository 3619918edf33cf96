"""grpc.health.v1 messages for `wait_until_ready`, declared in a private descriptor pool.

The client needs only grpcio, protobuf and pandas (see _rpc_status.py for the same reason), so
it does not depend on grpcio-health-checking. Field numbers match grpc/health/v1/health.proto.
"""
from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

METHOD = "/grpc.health.v1.Health/Check"
SERVING = 1  # HealthCheckResponse.ServingStatus.SERVING


def _build_pool() -> descriptor_pool.DescriptorPool:
    f = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="smartlib_client/grpc_health_subset.proto", package="grpc.health.v1",
                                             syntax="proto3")
    fdp.message_type.add(name="HealthCheckRequest").field.add(
        name="service", number=1, type=f.TYPE_STRING, label=f.LABEL_OPTIONAL)
    response = fdp.message_type.add(name="HealthCheckResponse")
    status = response.enum_type.add(name="ServingStatus")
    for number, name in enumerate(("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")):
        status.value.add(name=name, number=number)
    response.field.add(name="status", number=1, type=f.TYPE_ENUM, label=f.LABEL_OPTIONAL,
                       type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return pool


_POOL = _build_pool()
HealthCheckRequest = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest"))
HealthCheckResponse = message_factory.GetMessageClass(_POOL.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse"))


class HealthStub:
    """`Check` on any channel, sync or asyncio, like a generated stub."""

    def __init__(self, channel):
        self.Check = channel.unary_unary(
            METHOD, request_serializer=HealthCheckRequest.SerializeToString, response_deserializer=HealthCheckResponse.FromString)
