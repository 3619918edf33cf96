"""Domain errors. Each carries the gRPC status code it maps to; only api/ turns them into statuses."""
from __future__ import annotations

import grpc


class SmartLibError(Exception):
    """Base class: a failure the caller can understand and act on."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(SmartLibError):
    """The request is malformed. `violations` maps a field path to what is wrong with it."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, violations: dict[str, str] | None = None):
        super().__init__(message)
        self.violations = dict(violations or {})

    @classmethod
    def field(cls, field: str, problem: str) -> "InvalidArgument":
        return cls(f"{field}: {problem}", {field: problem})


class NotFound(SmartLibError):
    code = grpc.StatusCode.NOT_FOUND


class BookNotFound(NotFound):
    def __init__(self, book_id: str):
        super().__init__(f"no book with id {book_id!r}; use SearchBooks to find ids")
        self.book_id = book_id


class FailedPrecondition(SmartLibError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Unavailable(SmartLibError):
    """A dependency is down or the server is not ready; `retry_after` hints when to retry."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class ResourceExhausted(SmartLibError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: float = 0.5):
        super().__init__(message)
        self.retry_after = retry_after


class AlreadyExists(SmartLibError):
    code = grpc.StatusCode.ALREADY_EXISTS


class ConfigError(Exception):
    """Invalid configuration detected at start-up; the message names the variable."""
