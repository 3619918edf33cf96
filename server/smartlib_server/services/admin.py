"""Operating the server: versions and hot swap behind the quality gate, rebuilds and statistics.

Plain Python for AdminService: api/admin_servicer.py only converts messages. It gets exactly the
collaborators it uses, not the whole of app.Services.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.adapters.catalog_store import CatalogStore
from smartlib_server.services.caching import AnswerCaching
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.recommend.serving_index import ServingIndex
from smartlib_server.services.versions import ENCODER, VersionInfo, VersionManager

REEMBED_BATCH = 256  # books per transaction when re-embedding the whole catalog


@dataclasses.dataclass(frozen=True)
class Rebuilt:
    books: int
    embedded: int
    seconds: float
    index_version: str


@dataclasses.dataclass(frozen=True)
class Stats:
    books: int
    vectors: int
    index_sizes: dict[str, int]
    index_bytes: dict[str, int]
    active_versions: dict[str, str]
    cache: dict[str, str]


class AdminService:
    """
    Args:
        reload: rebuilds the serving state from the store (`reuse_derived` False recomputes).
        on_gate_override: called when an activation is forced past the quality gate (a metric).
        cache_backend: "redis" or "in-process", reported in statistics.
    """

    def __init__(self, versions: VersionManager, index: ServingIndex, store: CatalogStore, catalog: CatalogService,
                 caching: AnswerCaching, reload: Callable[[bool], object], on_gate_override: Callable[[], None],
                 cache_backend: str):
        self.versions = versions
        self.index = index
        self.store = store
        self.catalog = catalog
        self.caching = caching
        self.reload = reload
        self.on_gate_override = on_gate_override
        self.cache_backend = cache_backend

    def list_versions(self, kind: str | None) -> list[VersionInfo]:
        return self.versions.list_versions(kind)

    def activate(self, kind: str, version: str, force: bool = False) -> tuple[str, str]:
        """Serves `version` of `kind`; encoders pass the quality gate first unless `force`."""
        if kind == ENCODER:
            if self.versions.check_gate(version, force):
                self.on_gate_override()
            return self.versions.activate_encoder(version)
        return self.versions.activate_kb(version)

    def rollback(self, kind: str) -> tuple[str, str]:
        return self.versions.rollback_encoder() if kind == ENCODER else self.versions.rollback_kb()

    def rebuild(self, reembed: bool) -> Rebuilt:
        started = time.perf_counter()
        embedded = self._reembed() if reembed else 0
        self.reload(False)  # a rebuild recomputes, never reuses stored arrays
        return Rebuilt(len(self.index.books), embedded, time.perf_counter() - started, f"catalog-{self.index.version}")

    def _reembed(self) -> int:
        books = self.store.all_books()
        embedded = 0
        for start in range(0, len(books), REEMBED_BATCH):
            embedded += self.catalog.write(books[start : start + REEMBED_BATCH], force_embed=True).embedded
        return embedded

    def stats(self) -> Stats:
        state = self.index.state
        sizes = {"baseline": len(state.baseline)}
        nbytes = {"baseline": state.baseline.nbytes}
        active = {"embedder": EMBEDDER_ID, "index": f"catalog-{self.index.version}", "serving_source": state.source}
        if state.finetuned is not None:
            sizes["finetuned"] = len(state.finetuned.index)
            nbytes["finetuned"] = state.finetuned.index.nbytes
            active["encoder"] = state.finetuned.version
        if self.versions.active_kb:
            active["knowledge_base"] = self.versions.active_kb
        cache = {"backend": self.cache_backend}
        counts = self.caching.stats()
        cache.update(hits=str(counts.hits), misses=str(counts.misses), waited=str(counts.waited),
                     coalesced=str(counts.coalesced), hit_ratio=f"{counts.hit_ratio:.3f}")
        cache.update({f"errors.{kind}": str(n) for kind, n in counts.errors.items()})
        return Stats(self.store.count_books(), len(self.store.vector_hashes(EMBEDDER_ID)), sizes, nbytes, active, cache)
