"""Readiness and AdminService helpers, written once for both clients (see _plans.py)."""
from __future__ import annotations

import time
from typing import Any

from smartlib.v1 import admin_service_pb2
from smartlib_client import _health
from smartlib_client._base import ADMIN, HEALTH, RECOMMEND, ClientBase
from smartlib_client._plans import Call, Plan, Sleep, operation
from smartlib_client.errors import DeadlineExceeded, NotFound, Unavailable
from smartlib_client.frames import Table, message_dict, table

VERSION_COLUMNS = ["kind", "version", "created_at", "active", "metrics"]
_KINDS = {"encoder": admin_service_pb2.VERSION_KIND_ENCODER, "knowledge_base": admin_service_pb2.VERSION_KIND_KNOWLEDGE_BASE}


def _kind(kind: str | None) -> int:
    if kind is None:
        return admin_service_pb2.VERSION_KIND_UNSPECIFIED
    if kind not in _KINDS:
        raise ValueError(f"unknown version kind {kind!r}; use 'encoder' or 'knowledge_base'")
    return _KINDS[kind]


def _version(info: admin_service_pb2.VersionInfo) -> dict[str, Any]:
    row = message_dict(info)
    row["kind"] = row["kind"].removeprefix("VERSION_KIND_").lower()
    return row


class AdminOperations(ClientBase):
    """wait_until_ready, and the admin helpers, which send the admin token."""

    @operation
    def wait_until_ready(self, service: str = RECOMMEND, timeout: float = 60.0, interval: float = 0.25) -> Plan[None]:
        """Polls grpc.health.v1 until `service` is SERVING, e.g. after starting a server.

        Args:
            service: the health service name; "" for the server as a whole. RecommendService
                (the default) is SERVING once the indexes are loaded and the embedder is warm.
            timeout: seconds to keep trying.
            interval: seconds between checks.

        Raises:
            DeadlineExceeded: not SERVING within `timeout` (the message says what was seen last).
        """
        deadline = time.monotonic() + timeout
        seen = "no answer"
        while True:
            left = deadline - time.monotonic()
            try:
                reply = yield Call(HEALTH, "Check", _health.HealthCheckRequest(service=service), max(min(left, 5.0), 0.05))
                if reply.status == _health.SERVING:
                    return
                seen = _health.HealthCheckResponse.ServingStatus.Name(reply.status)
            except (Unavailable, DeadlineExceeded, NotFound) as error:  # not listening yet, slow, or unknown service
                seen = error.code.name
            if time.monotonic() + interval > deadline:
                raise DeadlineExceeded(f"{service or 'the server'} at {self.address} was not SERVING after {timeout:g}s (last: {seen})")
            yield Sleep(interval)

    @operation
    def stats(self, timeout: float | None = None) -> Plan[dict[str, Any]]:
        """Catalog size, index sizes, active versions and cache state (AdminService.GetStats, admin token).

        Returns:
            books, vectors, index_sizes, index_bytes, active_versions and cache, as plain values.

        Raises:
            PermissionDenied: not the admin token (or, with none configured, not a local caller).
        """
        return message_dict((yield from self._rpc(ADMIN, "GetStats", admin_service_pb2.GetStatsRequest(), timeout, admin=True)))

    @operation
    def versions(self, kind: str | None = None, timeout: float | None = None, *, as_records: bool = False) -> Plan[Table]:
        """Stored encoder and knowledge-base versions (AdminService.ListVersions, admin token).

        Args:
            kind: "encoder", "knowledge_base", or None for both.
            timeout: deadline in seconds.
            as_records: Records instead of a DataFrame.

        Returns:
            One row per version: kind, version, created_at, active, metrics (the quality figures).

        Raises:
            ValueError: an unknown kind.
            PermissionDenied: not the admin token.
        """
        request = admin_service_pb2.ListVersionsRequest(kind=_kind(kind))
        reply = yield from self._rpc(ADMIN, "ListVersions", request, timeout, admin=True)
        return table([_version(v) for v in reply.versions], VERSION_COLUMNS, as_records=as_records)

    @operation
    def activate(self, version: str, kind: str = "encoder", force: bool = False, timeout: float | None = 300.0) -> Plan[dict[str, Any]]:
        """Serves a stored version on every replica (AdminService.ActivateVersion, admin token; not retried).

        Args:
            version: a name from `versions()`.
            kind: "encoder" or "knowledge_base".
            force: activate even if the quality gate refuses (logged and counted by the server).
            timeout: deadline in seconds; indexing a new encoder can take a while.

        Returns:
            {"active": the version now served, as a `versions()` row; "previous_version": ...}.

        Raises:
            FailedPrecondition: the quality gate refused; the message names the metric.
            NotFound: no such version.
        """
        request = admin_service_pb2.ActivateVersionRequest(kind=_kind(kind), version=version, force=force)
        reply = yield from self._rpc(ADMIN, "ActivateVersion", request, timeout, admin=True)
        return {"active": _version(reply.active), "previous_version": reply.previous_version}

    @operation
    def rollback(self, kind: str = "encoder", timeout: float | None = 300.0) -> Plan[dict[str, Any]]:
        """Goes back to the version active before the last activation (AdminService.Rollback, admin token).

        Args:
            kind: "encoder" or "knowledge_base".
            timeout: deadline in seconds.

        Returns:
            Like `activate`: the version now served and the one it replaced.

        Raises:
            FailedPrecondition: there is nothing to roll back to.
        """
        request = admin_service_pb2.RollbackRequest(kind=_kind(kind))
        reply = yield from self._rpc(ADMIN, "Rollback", request, timeout, admin=True)
        return {"active": _version(reply.active), "previous_version": reply.previous_version}

