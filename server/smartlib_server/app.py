"""Wires adapters and services together from one Settings object."""
from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from smartlib_server.adapters.catalog_store import CatalogStore, open_store
from smartlib_server.adapters.inference import Inference, LocalInference
from smartlib_server.config import Settings
from smartlib_server.embedding import MiniLMTextEncoder
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.recommend import RecommendService
from smartlib_server.services.serving_index import ServingIndex
from smartlib_server.services.title_search import TitleIndex
from smartlib_server.vector_index import configure_faiss

log = logging.getLogger(__name__)


def starter_catalog_path() -> Path:
    return Path(str(resources.files("smartlib_server") / "starter" / "starter_catalog.csv"))


@dataclasses.dataclass
class Services:
    settings: Settings
    store: CatalogStore
    inference: Inference
    index: ServingIndex
    catalog: CatalogService
    recommend: RecommendService
    executor: ThreadPoolExecutor
    _stop: threading.Event = dataclasses.field(default_factory=threading.Event)

    def load(self) -> None:
        """Builds the in-memory indexes from the store (blocking)."""
        self.index.load()

    def follow_changes(self, interval: float = 0.5) -> threading.Thread:
        """Polls the store's change log so writes made by other replicas show up here too."""

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    if self.index.ready.is_set():
                        self.index.catch_up()
                except Exception:  # the store may be briefly down; the next poll catches up
                    log.warning("catching up with catalog changes failed", exc_info=True)

        thread = threading.Thread(target=loop, name="smartlib-change-follower", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        self._stop.set()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.store.close()


def build_services(settings: Settings, inference: Inference | None = None) -> Services:
    configure_faiss(settings.faiss_threads)
    store = open_store(settings.database_url, settings.sqlite_path)
    if inference is None:
        inference = LocalInference(MiniLMTextEncoder(batch_size=settings.embed_batch_size, bf16=settings.embed_bf16))
    titles = TitleIndex()
    index = ServingIndex(store, titles)
    catalog = CatalogService(
        store, inference, titles, max_batch=settings.max_upsert_batch, max_query_chars=settings.max_query_chars,
        on_change=index.catch_up,
    )
    recommend = RecommendService(index, inference, max_k=settings.max_k, max_query_chars=settings.max_query_chars)
    executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="smartlib-worker")
    return Services(settings, store, inference, index, catalog, recommend, executor)
