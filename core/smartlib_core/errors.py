"""Domain errors. Each carries the status code it maps to; only the server's api/ turns them into
gRPC statuses. The codes are named like grpc.StatusCode's, so core needs no gRPC runtime (the
TorchServe image installs core without it)."""
from __future__ import annotations

import enum


class Code(enum.Enum):
    """The gRPC status codes domain errors use, by the same names and numbers."""

    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    INTERNAL = 13
    UNAVAILABLE = 14


class SmartLibError(Exception):
    """Base class: a failure the caller can understand and act on."""

    code: Code = Code.INTERNAL

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidArgument(SmartLibError):
    """The request is malformed. `violations` maps a field path to what is wrong with it."""

    code = Code.INVALID_ARGUMENT

    def __init__(self, message: str, violations: dict[str, str] | None = None):
        super().__init__(message)
        self.violations = dict(violations or {})

    @classmethod
    def field(cls, field: str, problem: str) -> "InvalidArgument":
        return cls(f"{field}: {problem}", {field: problem})


class NotFound(SmartLibError):
    code = Code.NOT_FOUND


class BookNotFound(NotFound):
    def __init__(self, book_id: str):
        super().__init__(f"no book with id {book_id!r}; use SearchBooks to find ids")
        self.book_id = book_id


class FailedPrecondition(SmartLibError):
    code = Code.FAILED_PRECONDITION


class Unavailable(SmartLibError):
    """A dependency is down or the server is not ready; `retry_after` hints when to retry."""

    code = Code.UNAVAILABLE

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after


class ResourceExhausted(SmartLibError):
    code = Code.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: float = 0.5):
        super().__init__(message)
        self.retry_after = retry_after


class AlreadyExists(SmartLibError):
    code = Code.ALREADY_EXISTS


class ConfigError(Exception):
    """Invalid configuration detected at start-up; the message names the variable."""
