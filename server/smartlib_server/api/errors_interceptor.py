"""Maps domain errors to gRPC statuses with google.rpc details; hides everything else."""
from __future__ import annotations

import contextlib
import logging

import grpc
from google.protobuf import duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from smartlib_core.errors import InvalidArgument, ResourceExhausted, SmartLibError, Unavailable
from smartlib_server.api.pipeline import Call, Step

log = logging.getLogger(__name__)
INTERNAL_MESSAGE = "internal error; it has been logged. Retry later or contact the operators."


def grpc_code(error: SmartLibError) -> grpc.StatusCode:
    """The gRPC status for a domain error: core names its codes like grpc.StatusCode so this is a lookup
    (the auth step's denial may carry a grpc.StatusCode already)."""
    return grpc.StatusCode[error.code.name]


def status_for(error: SmartLibError) -> status_pb2.Status:
    """A google.rpc.Status carrying BadRequest field violations or RetryInfo where they apply."""
    status = status_pb2.Status(code=grpc_code(error).value[0], message=error.message)
    if isinstance(error, InvalidArgument) and error.violations:
        bad = error_details_pb2.BadRequest()
        for field, description in error.violations.items():
            bad.field_violations.add(field=field, description=description)
        status.details.add().Pack(bad)
    if isinstance(error, (Unavailable, ResourceExhausted)):
        seconds = max(error.retry_after, 0.0)
        delay = duration_pb2.Duration(seconds=int(seconds), nanos=int((seconds % 1) * 1e9))
        status.details.add().Pack(error_details_pb2.RetryInfo(retry_delay=delay))
    return status


async def abort_with(context: grpc.aio.ServicerContext, error: BaseException) -> None:
    """Ends the RPC with the status `error` deserves. Always raises."""
    if isinstance(error, NotImplementedError):  # a declared method this server does not serve yet
        status = status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message="this server does not implement the method yet")
        code = grpc.StatusCode.UNIMPLEMENTED
    elif isinstance(error, SmartLibError):
        status = status_for(error)
        code = grpc_code(error)
    else:
        log.error("unexpected error in %s", _method(context), exc_info=error)
        status = status_pb2.Status(code=code_pb2.INTERNAL, message=INTERNAL_MESSAGE)
        code = grpc.StatusCode.INTERNAL
    await context.abort(code, status.message, trailing_metadata=(("grpc-status-details-bin", status.SerializeToString()),))


def _method(context: grpc.aio.ServicerContext) -> str:
    try:
        return context._rpc_event.call_details.method.decode()  # best effort, for the log line only
    except Exception:
        return "an RPC"


class ErrorInterceptor(Step):
    """Turns every failure into a status, whatever the call's shape: domain errors into rich
    statuses, anything else into a generic INTERNAL. Cancellation (asyncio.CancelledError, a
    BaseException) and aborts pass through untouched: a client that hung up is not a server error."""

    @contextlib.asynccontextmanager
    async def around(self, call: Call):
        try:
            yield
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure must become a status
            await abort_with(call.context, exc)
