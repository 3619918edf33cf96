"""AdminService: versions, hot swap, rebuilds and statistics (experiments join in later)."""
from __future__ import annotations

import time

from smartlib.v1 import admin_service_pb2 as pb, admin_service_pb2_grpc
from smartlib_server.api.servicers import _Blocking
from smartlib_server.app import Services
from smartlib_server.embedding import EMBEDDER_ID
from smartlib_server.errors import InvalidArgument
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
            out.created_at.FromJsonString(info.created_at if info.created_at.endswith("Z") or "+" in info.created_at else info.created_at + "Z")
        except ValueError:
            pass  # an odd timestamp in an old manifest is not worth failing a listing for
    return out


class AdminServicer(admin_service_pb2_grpc.AdminServiceServicer, _Blocking):
    def __init__(self, services: Services, personal=None):
        _Blocking.__init__(self, services.executor)
        self.services = services
        self.personal = personal  # experiments live with personalisation (api.interaction_servicer)

    async def CreateExperiment(self, request, context):
        return await self.personal.CreateExperiment(request, context)

    async def StopExperiment(self, request, context):
        return await self.personal.StopExperiment(request, context)

    async def ListExperiments(self, request, context):
        return await self.personal.ListExperiments(request, context)

    async def GetExperimentResults(self, request, context):
        return await self.personal.GetExperimentResults(request, context)

    async def ListVersions(self, request, context):
        kind = _kind(request.kind, allow_unspecified=True)
        infos = await self.run(self.services.versions.list_versions, kind)
        return pb.ListVersionsResponse(versions=[_info_pb(i) for i in infos])

    async def ActivateVersion(self, request, context):
        kind = _kind(request.kind, allow_unspecified=False)
        if not request.version.strip():
            raise InvalidArgument.field("version", "must name a version from ListVersions")
        versions = self.services.versions
        if kind == ENCODER and await self.run(versions.check_gate, request.version.strip(), request.force):
            self.services.metrics.quality_gate_overrides.inc()
        activate = versions.activate_encoder if kind == ENCODER else versions.activate_kb
        new, previous = await self.run(activate, request.version.strip())
        return self._activated(kind, new, previous)

    async def Rollback(self, request, context):
        kind = _kind(request.kind, allow_unspecified=False)
        versions = self.services.versions
        rollback = versions.rollback_encoder if kind == ENCODER else versions.rollback_kb
        new, previous = await self.run(rollback)
        return self._activated(kind, new, previous)

    def _activated(self, kind: str, new: str, previous: str) -> pb.ActivateVersionResponse:
        return pb.ActivateVersionResponse(
            active=pb.VersionInfo(kind=_KIND_PB[kind], version=new, active=True),
            previous_version=previous,
        )

    async def RebuildIndex(self, request, context):
        started = time.perf_counter()
        embedded = 0
        if request.reembed:
            embedded = await self.run(self._reembed)
        await self.run(self.services.load, False)  # a rebuild recomputes, never reuses stored arrays
        index = self.services.index
        return pb.RebuildIndexResponse(
            books=len(index.books), embedded=embedded, seconds=time.perf_counter() - started,
            index_version=f"catalog-{index.version}",
        )

    def _reembed(self) -> int:
        catalog = self.services.catalog
        books = self.services.store.all_books()
        embedded = 0
        for start in range(0, len(books), 256):
            batch = books[start : start + 256]
            embedded += catalog.write(batch, force_embed=True).embedded
        return embedded

    async def GetStats(self, request, context):
        return await self.run(self._stats)

    def _stats(self) -> pb.GetStatsResponse:
        services = self.services
        state = services.index.state
        sizes = {"baseline": len(state.baseline)}
        nbytes = {"baseline": state.baseline.nbytes}
        active = {"embedder": EMBEDDER_ID, "index": f"catalog-{services.index.version}", "serving_source": state.source}
        if state.finetuned is not None:
            sizes["finetuned"] = len(state.finetuned.index)
            nbytes["finetuned"] = state.finetuned.index.nbytes
            active["encoder"] = state.finetuned.version
        if services.versions.active_kb:
            active["knowledge_base"] = services.versions.active_kb
        cache = {"backend": "redis" if services.settings.redis_url else "in-process"}
        stats = services.caching.stats()
        cache.update(hits=str(stats.hits), misses=str(stats.misses), waited=str(stats.waited),
                     coalesced=str(stats.coalesced), hit_ratio=f"{stats.hit_ratio:.3f}")
        cache.update({f"errors.{kind}": str(n) for kind, n in stats.errors.items()})
        return pb.GetStatsResponse(
            books=services.store.count_books(), vectors=len(services.store.vector_hashes(EMBEDDER_ID)),
            index_sizes=sizes, index_bytes=nbytes, active_versions=active, cache=cache,
        )

