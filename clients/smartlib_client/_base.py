"""What both clients hold: the channel, the stubs, the tokens, and `_rpc`, the one call with retries."""
from __future__ import annotations

import time
from typing import Any

from smartlib.v1 import (
    admin_service_pb2_grpc,
    catalog_service_pb2_grpc,
    chat_service_pb2_grpc,
    interaction_service_pb2_grpc,
    recommend_service_pb2_grpc,
)
from smartlib_client import _health
from smartlib_client._plans import Call, Plan, Sleep
from smartlib_client.connection import TLS, auth_metadata, is_idempotent, make_channel
from smartlib_client.errors import SmartLibError
from smartlib_client.retries import RetryPolicy

CATALOG = "smartlib.v1.CatalogService"
RECOMMEND = "smartlib.v1.RecommendService"
INTERACTION = "smartlib.v1.InteractionService"
ADMIN = "smartlib.v1.AdminService"
CHAT = "smartlib.v1.ChatService"
HEALTH = "grpc.health.v1.Health"
DEFAULT_TIMEOUT = 10.0


class ClientBase:
    """The connection settings both clients share (the arguments are documented on SmartLibrary);
    the methods are in operations.py and admin.py."""

    _aio = False

    def __init__(
        self,
        address: str = "localhost:50051",
        token: str | None = None,
        tls: TLS | bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_attempts: int = 4,
        *,
        admin_token: str | None = None,
        load_balancing: str | None = None,
        retry: RetryPolicy | None = None,
    ):
        self.address = address
        self.timeout = timeout
        self.retry = retry or RetryPolicy(max_attempts=max_attempts)
        self._auth = auth_metadata(token)
        self._admin_auth = auth_metadata(admin_token or token)
        self._channel = make_channel(address, tls=tls, load_balancing=load_balancing, aio=self._aio)
        self._stubs = {
            CATALOG: catalog_service_pb2_grpc.CatalogServiceStub(self._channel),
            RECOMMEND: recommend_service_pb2_grpc.RecommendServiceStub(self._channel),
            INTERACTION: interaction_service_pb2_grpc.InteractionServiceStub(self._channel),
            ADMIN: admin_service_pb2_grpc.AdminServiceStub(self._channel),
            CHAT: chat_service_pb2_grpc.ChatServiceStub(self._channel),
            HEALTH: _health.HealthStub(self._channel),
        }

    def _metadata(self, call: Call) -> tuple[tuple[str, str], ...]:
        return self._admin_auth if call.admin else self._auth

    def _rpc(self, service: str, method: str, request: Any, timeout: float | None, admin: bool = False) -> Plan[Any]:
        """One call, retried as `self.retry` says when the method is idempotent."""
        call = Call(service, method, request, self.timeout if timeout is None else timeout, admin)
        started, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                return (yield call)
            except SmartLibError as error:
                wait = self.retry.delay(error, attempt, time.monotonic() - started) if is_idempotent(service, method) else None
                if wait is None:
                    raise
            yield Sleep(wait)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address!r})"


