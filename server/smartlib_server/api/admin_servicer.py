"""AdminService: versions, hot swap, rebuilds and statistics (experiments join in later)."""
from __future__ import annotations

from smartlib.v1 import admin_service_pb2 as pb, admin_service_pb2_grpc
from smartlib_core.errors import InvalidArgument
from smartlib_server.api.blocking import Blocking
from smartlib_server.services.admin import AdminService
from smartlib_server.services.versions import ENCODER, KNOWLEDGE_BASE, VersionInfo

_KINDS = {pb.VERSION_KIND_ENCODER: ENCODER, pb.VERSION_KIND_KNOWLEDGE_BASE: KNOWLEDGE_BASE}
_KIND_PB = {v: k for k, v in _KINDS.items()}


def _kind(value: int, allow_unspecified: bool) -> str | None:
    if value == pb.VERSION_KIND_UNSPECIFIED and allow_unspecified:
        return None
    if value not in _KINDS:
        raise InvalidArgument.field("kind", "must be VERSION_KIND_ENCODER or VERSION_KIND_KNOWLEDGE_BASE")
    return _KINDS[value]


def _info_pb(info: VersionInfo) -> pb.VersionInfo:
    out = pb.VersionInfo(kind=_KIND_PB[info.kind], version=info.version, active=info.active, metrics=info.metrics)
    if info.created_at:
        try:
            zoned = info.created_at.endswith("Z") or "+" in info.created_at
            out.created_at.FromJsonString(info.created_at if zoned else info.created_at + "Z")
        except ValueError:
            pass  # an odd timestamp in an old manifest is not worth failing a listing for
    return out


class AdminServicer(admin_service_pb2_grpc.AdminServiceServicer, Blocking):
    """Converts AdminService messages; the work is services/admin.py's (experiments are
    personalisation's, api.interaction_servicer)."""

    def __init__(self, admin: AdminService, executor, personal=None):
        Blocking.__init__(self, executor)
        self.admin = admin
        self.personal = personal

    async def CreateExperiment(self, request, context):
        return await self.personal.CreateExperiment(request, context)

    async def StopExperiment(self, request, context):
        return await self.personal.StopExperiment(request, context)

    async def ListExperiments(self, request, context):
        return await self.personal.ListExperiments(request, context)

    async def GetExperimentResults(self, request, context):
        return await self.personal.GetExperimentResults(request, context)

    async def ListVersions(self, request, context):
        infos = await self.run(self.admin.list_versions, _kind(request.kind, allow_unspecified=True))
        return pb.ListVersionsResponse(versions=[_info_pb(i) for i in infos])

    async def ActivateVersion(self, request, context):
        kind = _kind(request.kind, allow_unspecified=False)
        if not request.version.strip():
            raise InvalidArgument.field("version", "must name a version from ListVersions")
        new, previous = await self.run(self.admin.activate, kind, request.version.strip(), request.force)
        return _activated(kind, new, previous)

    async def Rollback(self, request, context):
        kind = _kind(request.kind, allow_unspecified=False)
        new, previous = await self.run(self.admin.rollback, kind)
        return _activated(kind, new, previous)

    async def RebuildIndex(self, request, context):
        rebuilt = await self.run(self.admin.rebuild, request.reembed)
        return pb.RebuildIndexResponse(books=rebuilt.books, embedded=rebuilt.embedded, seconds=rebuilt.seconds,
                                       index_version=rebuilt.index_version)

    async def GetStats(self, request, context):
        stats = await self.run(self.admin.stats)
        return pb.GetStatsResponse(
            books=stats.books, vectors=stats.vectors, index_sizes=stats.index_sizes, index_bytes=stats.index_bytes,
            active_versions=stats.active_versions, cache=stats.cache,
        )


def _activated(kind: str, new: str, previous: str) -> pb.ActivateVersionResponse:
    return pb.ActivateVersionResponse(active=pb.VersionInfo(kind=_KIND_PB[kind], version=new, active=True),
                                      previous_version=previous)
