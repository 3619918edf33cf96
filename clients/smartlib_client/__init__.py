"""Smart Library Python client: `SmartLibrary("localhost:50051").similar("The Hobbit")`, or on
asyncio `await smartlib_client.aio.AsyncSmartLibrary("localhost:50051").similar("The Hobbit")`."""
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
from smartlib_client.frames import Records
from smartlib_client.retries import RetryPolicy

__all__ = [
    "SmartLibrary", "TLS", "Chat", "ChatEvent", "ChatReply", "Records", "RetryPolicy",
    "SmartLibError", "InvalidArgument", "NotFound", "AlreadyExists", "FailedPrecondition", "Unavailable",
    "ResourceExhausted", "DeadlineExceeded", "Unauthenticated", "PermissionDenied", "Cancelled",
    "Unimplemented", "Internal",
]
