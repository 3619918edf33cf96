"""The domain errors live in smartlib_core; this module keeps their server-side names and turns
their codes into gRPC status codes for api/."""
from __future__ import annotations

import grpc

from smartlib_core.errors import (
    AlreadyExists,
    BookNotFound,
    Code,
    ConfigError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    SmartLibError,
    Unavailable,
)

__all__ = [
    "AlreadyExists", "BookNotFound", "Code", "ConfigError", "FailedPrecondition", "InvalidArgument", "NotFound",
    "ResourceExhausted", "SmartLibError", "Unavailable", "grpc_code",
]


def grpc_code(error: SmartLibError) -> grpc.StatusCode:
    """The gRPC status for a domain error (its code may also be a grpc.StatusCode already)."""
    return grpc.StatusCode[error.code.name]
