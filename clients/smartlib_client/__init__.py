"""Smart Library Python client: `SmartLibrary("localhost:50051").similar("The Hobbit")`."""
from smartlib_client.chat import Chat, ChatEvent, ChatReply
from smartlib_client.client import SmartLibrary
from smartlib_client.connection import TLS
from smartlib_client.errors import (
    AlreadyExists,
    Cancelled,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    SmartLibError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
)

__all__ = [
    "SmartLibrary", "TLS", "Chat", "ChatEvent", "ChatReply",
    "SmartLibError", "InvalidArgument", "NotFound", "AlreadyExists", "FailedPrecondition", "Unavailable",
    "ResourceExhausted", "DeadlineExceeded", "Unauthenticated", "PermissionDenied", "Cancelled",
    "Unimplemented", "Internal",
]
