"""Typed exceptions for gRPC failures, one class per status code the API uses."""
from __future__ import annotations

import grpc

from smartlib_client._rpc_status import parse_details


class SmartLibError(Exception):
    """Base class of every error the client raises for a failed call.

    Attributes:
        code: the gRPC status code.
        message: the server's message (what went wrong and what to do).
        violations: field path -> problem, from google.rpc.BadRequest; empty otherwise.
        retry_after: seconds to wait before retrying, from google.rpc.RetryInfo; None otherwise.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, violations: dict[str, str] | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.violations = dict(violations or {})
        self.retry_after = retry_after

    def __str__(self) -> str:
        text = f"{self.code.name}: {self.message}"
        if self.violations:
            text += " (" + "; ".join(f"{f}: {d}" for f, d in self.violations.items()) + ")"
        return text


class InvalidArgument(SmartLibError):
    """The request was malformed; `violations` names each bad field."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(SmartLibError):
    """The book (or other object) does not exist."""

    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(SmartLibError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(SmartLibError):
    """The server cannot do this in its current state, e.g. no fine-tuned encoder is active."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(SmartLibError):
    """The server or one of its dependencies is down; retry after `retry_after` seconds."""

    code = grpc.StatusCode.UNAVAILABLE


class ResourceExhausted(SmartLibError):
    """Rate or size limit hit; retry after `retry_after` seconds or send less."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class DeadlineExceeded(SmartLibError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(SmartLibError):
    """No token, or a wrong one."""

    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(SmartLibError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Cancelled(SmartLibError):
    code = grpc.StatusCode.CANCELLED


class Unimplemented(SmartLibError):
    """The server does not offer this method (an older server, or a feature not enabled)."""

    code = grpc.StatusCode.UNIMPLEMENTED


class Internal(SmartLibError):
    code = grpc.StatusCode.INTERNAL


_BY_CODE: dict[grpc.StatusCode, type[SmartLibError]] = {
    cls.code: cls
    for cls in (
        InvalidArgument, NotFound, AlreadyExists, FailedPrecondition, Unavailable, ResourceExhausted,
        DeadlineExceeded, Unauthenticated, PermissionDenied, Cancelled, Unimplemented, Internal,
    )
}
_BY_NAME = {code.name: code for code in grpc.StatusCode}


def error_for(code: grpc.StatusCode, message: str, **kwargs) -> SmartLibError:
    """The typed exception for `code`; codes without a class get a SmartLibError with that code."""
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls(message, **kwargs)
    error = SmartLibError(message, **kwargs)
    error.code = code
    return error


def error_for_name(code_name: str, message: str) -> SmartLibError:
    """The typed exception for a status code name such as "INVALID_ARGUMENT" (chat TurnError)."""
    return error_for(_BY_NAME.get(code_name.upper(), grpc.StatusCode.UNKNOWN), message)


def from_rpc_error(error: grpc.RpcError) -> SmartLibError:
    """Turns a failed call into its typed exception, with BadRequest and RetryInfo details."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else None) or str(error)
    trailers = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    details = parse_details(trailers)
    return error_for(code, message, violations=details.violations, retry_after=details.retry_after)
