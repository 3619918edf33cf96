"""Wires adapters and services together from one Settings object."""
from __future__ import annotations

import dataclasses
import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from smartlib_core import runtime
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.adapters.batched_inference import BatchedInference
from smartlib_server.adapters.cache import InProcessCache, RedisCache, redis_breaker, redis_client
from smartlib_server.adapters.catalog_store import CatalogStore, open_store
from smartlib_server.adapters.circuit_breaker import BreakerState
from smartlib_server.adapters.inference import Inference, LocalInference
from smartlib_server.adapters.memory.contract import ConversationMemory
from smartlib_server.adapters.memory.in_process import InProcessConversationMemory
from smartlib_server.config import Settings
from smartlib_server.metrics import ServerMetrics
from smartlib_server.periodic import PeriodicWorker
from smartlib_server.services.admin import AdminService
from smartlib_server.services.caching import AnswerCaching
from smartlib_server.services.catalog import CatalogService
from smartlib_server.services.chat import ChatService, build_chat_service
from smartlib_server.services.personalization.wiring import Personalization, build_personalization
from smartlib_server.services.recommend import RecommendService
from smartlib_server.services.recommend.derived_index import DerivedIndexStore
from smartlib_server.services.recommend.row_warmer import RowWarmer
from smartlib_server.services.recommend.serving_index import ServingIndex
from smartlib_server.services.recommend.vector_index import configure_faiss
from smartlib_server.services.title_search import TitleIndex
from smartlib_server.services.versions import VersionManager

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
    versions: VersionManager
    metrics: ServerMetrics
    caching: AnswerCaching
    memory: ConversationMemory
    chat: ChatService
    personalization: Personalization
    admin: AdminService | None = None  # set by build_services: it needs `load` of this object
    warmer: RowWarmer | None = None  # None with SMARTLIB_WARM_ROWS=0
    _stop: threading.Event = dataclasses.field(default_factory=threading.Event)
    _workers: list[PeriodicWorker] = dataclasses.field(default_factory=list)

    def load(self, reuse_derived: bool = True) -> None:
        """Builds the in-memory indexes from the store, with the encoder to serve (blocking);
        `reuse_derived=False` recomputes what SMARTLIB_HOME/derived would have supplied."""
        # The encoder (its manifest's hashes, OpenVINO's import and compiled blob: about 0.4 s,
        # much of it outside the GIL) loads on its own thread while the catalog is read.
        with ThreadPoolExecutor(1, thread_name_prefix="smartlib-encoder-load") as pool:
            encoder = pool.submit(self.versions.startup_encoder)
            self.index.load(finetuned=encoder.result, reuse_derived=reuse_derived)
        if reuse_derived and (restored := self.recommend.restore_reader_rows()):
            log.info("%d reader rows restored from %s", restored, self.settings.home / "derived")
        self.record_state()
        self.personalization.start(self.settings.cf_retrain_interval_s)  # idempotent
        if self.warmer is not None:
            self.warmer.start()  # idempotent; it follows every later write and swap itself

    def warm_up(self) -> bool:
        """Loads and warms what will answer text queries and catalog writes, so the first
        request after SERVING does not pay for it (MiniLM takes seconds to load). TorchServe
        counts as warm once it answers a real inference; with a fallback, when it does not, the
        in-process fallback is warmed instead. False: TorchServe without fallback is not
        answering yet (the caller retries; RecommendService stays NOT_SERVING)."""
        inference = self.inference
        if inference.backend == "torchserve":
            if inference.ready():
                return True
            if inference.fallback is None:
                return False
            inference = inference.fallback
        started = time.perf_counter()
        # Two passes of different lengths: the first loads the model, the second still costs
        # 3x a warm call (measured: 4.9 s, 0.18 s, then 0.06 s).
        for texts in (["warm-up"], ["a longer warm-up query about galactic empires and their fall"]):
            inference.embed_queries(texts)
        inference.embed_books([("Warm-up", "Nobody", "A book that exists only to warm the embedder.")])
        log.info("embedder loaded and warmed in %.1fs", time.perf_counter() - started)
        return True

    def inference_ready(self) -> bool:
        """Whether inference can answer now: in-process always can; TorchServe with fallback
        can (the fallback answers); TorchServe without fallback must pass a real tiny inference."""
        if self.inference.backend != "torchserve" or self.inference.fallback is not None:
            return True
        return self.inference.ready()

    def record_state(self) -> None:
        """Publishes versions and index sizes as metrics (after a load, swap or write)."""
        state = self.index.state
        versions = {"embedder": EMBEDDER_ID, "catalog": str(self.index.version), "source": state.source}
        sizes = {"baseline": len(state.baseline)}
        nbytes = {"baseline": state.baseline.nbytes}
        if state.finetuned is not None:
            versions["encoder"] = state.finetuned.version
            sizes["finetuned"] = len(state.finetuned.index)
            nbytes["finetuned"] = state.finetuned.index.nbytes
        self.metrics.set_versions(versions)
        self.metrics.set_index_sizes(sizes, nbytes)
        self.metrics.catalog_books.set(len(state.books))

    def follow_changes(self, interval: float = 0.5) -> PeriodicWorker:
        """Applies writes and activations made by other replicas that share the store.

        PostgreSQL NOTIFY wakes the loop at once; otherwise it polls every `interval`. Either way
        it re-reads the durable change log, so a missed notification only costs one interval.
        A failed round (the store briefly down) is logged; the next round catches up.
        """

        def follow() -> None:
            if not self.index.ready.is_set():
                return
            changed = self.index.catch_up()
            self.versions.follow_active()
            self.personalization.follow()  # interactions and ForgetUser from other processes
            if changed:
                self.record_state()
            self.metrics.change_log_caught_up(self.index.version)  # its age is the replica's lag

        worker = PeriodicWorker(follow, interval, "smartlib-change-follower", pause=self.store.wait_for_change,
                                failed="following catalog changes failed")
        self._workers.append(worker)
        if self._stop.is_set():
            worker.stop()
        worker.start()
        self.metrics.watch_worker("change_follower", worker.is_alive)
        return worker

    def close(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.stop(timeout=0)
        if self.warmer is not None:
            self.warmer.stop()
        self.inference.close()
        self.chat.close()
        self.personalization.close()
        self.memory.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.store.close()
        self.caching.cache.close()


def build_inference(settings: Settings, metrics: ServerMetrics) -> Inference:
    """In-process by default; TorchServe (with in-process fallback when enabled) by configuration."""
    encoder = runtime.text_encoder(settings.runtime, settings.home / "compiled", batch_size=settings.embed_batch_size,
                                   bf16=settings.embed_bf16, threads=settings.runtime_threads)
    # openvino/onnx: one model serves queries and books; torch: a bf16-weights copy for queries.
    queries = runtime.query_encoder(encoder, settings.embed_batch_size, threads=settings.runtime_threads)
    compile_encoder = functools.partial(runtime.compiled_encoder, settings.runtime, settings.home / "compiled",
                                        threads=settings.runtime_threads, bf16=settings.embed_bf16)
    local = LocalInference(encoder, query_max_tokens=settings.query_max_tokens, query_encoder=queries,
                           compile_encoder=compile_encoder)
    inner: Inference = local
    if settings.inference == "torchserve":
        from smartlib_server.adapters.torchserve_inference import TorchServeInference

        inner = TorchServeInference.from_settings(settings, version="", fallback=local, metrics=metrics)
    return BatchedInference(  # concurrent requests share forward passes (and TorchServe requests)
        inner, max_batch=settings.batch_max, max_wait_s=settings.batch_wait_ms / 1000, max_queue=settings.batch_queue,
        cache_bytes=settings.query_cache_mb * 1024 * 1024, observe=metrics.observe_batch,
        on_lookup=lambda hit: metrics.query_cache_lookups.labels(result="hit" if hit else "miss").inc(),
    )


def build_services(settings: Settings, inference: Inference | None = None, metrics: ServerMetrics | None = None) -> Services:
    configure_faiss(settings.faiss_threads)
    store = open_store(settings.database_url, settings.sqlite_path)
    metrics = metrics or ServerMetrics()
    if inference is None:
        inference = build_inference(settings, metrics)
    titles = TitleIndex()
    index = ServingIndex(store, titles, index_kind=settings.index_kind, derived=DerivedIndexStore(settings.home / "derived"))
    catalog = CatalogService(
        store, inference, titles, max_batch=settings.max_upsert_batch, max_query_chars=settings.max_query_chars,
        on_change=index.catch_up, on_embedded=metrics.books_embedded.inc,
        names=lambda query, n: index.lexical.search(query, n, "names"),
    )
    recommend = RecommendService(index, inference, max_k=settings.max_k, max_query_chars=settings.max_query_chars,
                                 text_fusion=settings.text_fusion)
    executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="smartlib-worker",
                                  initializer=configure_faiss, initargs=(settings.faiss_threads,))
    versions = VersionManager(settings, index, inference)
    caching = build_answer_caching(settings, metrics)
    memory = build_conversation_memory(settings, metrics)
    chat = build_chat_service(recommend, memory, executor, settings)
    personalization = build_personalization(store.db, recommend, metrics, settings.max_k, memory,
                                            cached_users=settings.personal_cache_users)
    services = Services(
        settings, store, inference, index, catalog, recommend, executor, versions, metrics, caching, memory, chat,
        personalization,
    )
    if settings.warm_rows:
        services.warmer = RowWarmer(recommend, on_built=metrics.reader_rows_built_ahead.inc,
                                    on_pending=metrics.reader_rows_warm_pending.set)
        metrics.watch_worker("row_warmer", lambda: services.warmer.running)
    if isinstance(inference, BatchedInference):
        for name in ("queries", "books", "encoder"):
            batcher = getattr(inference, name)
            metrics.watch_batcher(batcher.name, lambda b=batcher: b.alive, lambda b=batcher: b.queued)
    services.admin = AdminService(
        versions, index, store, catalog, caching, services.load, metrics.quality_gate_overrides.inc,
        "redis" if settings.redis_url else "in-process",
    )
    return services


def build_conversation_memory(settings: Settings, metrics: ServerMetrics | None = None) -> ConversationMemory:
    """Chat memory: Redis when configured (its own instance with SMARTLIB_MEMORY_REDIS_URL, since
    docs/redis.md wants noeviction for memory and LRU for the cache), else in-process."""
    url = settings.memory_redis_url or settings.redis_url
    if url:
        from smartlib_server.adapters.memory.redis_store import RedisConversationMemory  # imports redis: only when used

        gauge = metrics.memory_circuit_open if metrics is not None else None
        breaker = redis_breaker("redis-memory", on_state_change=None if gauge is None else (
            lambda old, new: gauge.set(new is BreakerState.OPEN)))
        return RedisConversationMemory(redis_client(url), breaker, environment=settings.environment)
    return InProcessConversationMemory()


def build_answer_caching(settings: Settings, metrics: ServerMetrics) -> AnswerCaching:
    """Redis when SMARTLIB_REDIS_URL is set, else an in-process TTL LRU; both fail open."""
    if settings.redis_url:
        gauge = metrics.cache_circuit_open.labels(backend="redis")
        breaker = redis_breaker("redis-cache", on_state_change=lambda old, new: gauge.set(new is BreakerState.OPEN))
        cache = RedisCache(redis_client(settings.redis_url), breaker)
    else:
        cache = InProcessCache()
    return AnswerCaching(cache, environment=settings.environment, ttl_s=settings.cache_ttl_s, metrics=metrics)
