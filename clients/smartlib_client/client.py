"""SmartLibrary: the friendly, synchronous client. Results come back as pandas DataFrames.

Its methods are written once in operations.py and run here with blocking gRPC calls;
smartlib_client.aio.AsyncSmartLibrary runs the same ones on asyncio.
"""
from __future__ import annotations

from smartlib_client._plans import SyncDriver
from smartlib_client.chat import Chat
from smartlib_client.operations import DEFAULT_TIMEOUT, UPSERT_BATCH, LibraryOperations

__all__ = ["SmartLibrary", "DEFAULT_TIMEOUT", "UPSERT_BATCH"]


class SmartLibrary(SyncDriver, LibraryOperations[Chat]):
    """A connection to a Smart Library server (or to several replicas, with round_robin).

    Args:
        address: a gRPC target: "host:port", or "dns:///host:port" / "ipv4:a:p1,b:p2" for several
            replicas (with load_balancing="round_robin").
        token: bearer token sent as `authorization: Bearer <token>` on every call.
        tls: None for plaintext, True for TLS with the system roots, or a `TLS` with a CA
            bundle and optionally a client certificate and key.
        timeout: default deadline in seconds for each unary call (each attempt of a retried one).
        max_attempts: attempts (first try included) for idempotent reads that fail UNAVAILABLE or
            RESOURCE_EXHAUSTED; 1 disables retries. Ignored when `retry` is given.
        admin_token: the token for stats, versions, activate, rollback and forget_user; `token` when None.
        load_balancing: None (gRPC's pick_first), "pick_first" or "round_robin".
        retry: the full retry policy (backoff, jitter window, time cap); see RetryPolicy.

    Example:
        >>> lib = SmartLibrary("localhost:50051")
        >>> lib.similar("The Hobbit", k=5)[["title", "score", "reason"]]
    """

    _chat_type = Chat

    def close(self) -> None:
        """Closes the channel; the client cannot be used afterwards."""
        self._channel.close()

    def __enter__(self) -> SmartLibrary:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
