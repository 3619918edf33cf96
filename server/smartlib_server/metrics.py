"""Every Prometheus object the server exports, in one place.

Registry decision: `ServerMetrics` owns a dedicated `CollectorRegistry` (plus the process,
platform and GC collectors) instead of the library's default one. The server builds one
`ServerMetrics` at start and passes it down to the interceptor and the services; tests build
their own and get fresh counters with no cross-test leakage and no "duplicated timeseries"
errors when a module is imported twice. Nothing here is a module-level metric.

Names of the per-RPC metrics follow go-grpc-prometheus (and py-grpc-prometheus):
`grpc_server_started_total`, `grpc_server_handled_total`, `grpc_server_handling_seconds`,
`grpc_server_msg_received_total`, `grpc_server_msg_sent_total`, with the labels
`grpc_type`, `grpc_service`, `grpc_method` (and `grpc_code` where a status is known). One
deliberate extension: the latency histogram also carries `grpc_code`, because a fast
NOT_FOUND and a slow success are different populations; `sum without (grpc_code)` gives the
upstream shape back.

Labels are always drawn from small closed sets (method names, status codes, backends,
approaches, experiment and arm names). Never pass a user id, book id, session id or free text
as a label value: each distinct value is a new time series held forever.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    start_http_server,
)

# Seconds. Covers a cached GetBook (~100 us) up to a slow full-text search on 2 cores.
RPC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Model calls: an in-process encoder batch is sub-millisecond; TorchServe adds a network hop.
INFERENCE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Items in one shared forward pass (adapters/batching.py), and how long its oldest item waited.
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
BATCH_WAIT_BUCKETS = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1)
# Chat: the typing event should arrive almost at once; an LLM's first token can take seconds.
CHAT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

RPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")


class ServerMetrics:
    """All metric objects of one server process, registered on `self.registry`.

    Args:
        registry: where to register; a fresh registry with the process collectors when None.
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        if registry is None:
            registry = CollectorRegistry(auto_describe=True)
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                registry.register(collector)
        self.registry = registry
        r = registry

        # --- gRPC, recorded by api/metrics_interceptor.py for every RPC ---
        self.rpc_started = Counter(
            "grpc_server_started_total", "RPCs started on the server.", RPC_LABELS, registry=r
        )
        self.rpc_handled = Counter(
            "grpc_server_handled_total",
            "RPCs completed on the server, regardless of success or failure.",
            RPC_LABELS + ("grpc_code",),
            registry=r,
        )
        self.rpc_seconds = Histogram(
            "grpc_server_handling_seconds",
            "Time from the start of an RPC to its final status, by status code.",
            RPC_LABELS + ("grpc_code",),
            buckets=RPC_BUCKETS,
            registry=r,
        )
        self.rpc_msg_received = Counter(
            "grpc_server_msg_received_total", "Request messages received.", RPC_LABELS, registry=r
        )
        self.rpc_msg_sent = Counter(
            "grpc_server_msg_sent_total", "Response messages sent.", RPC_LABELS, registry=r
        )

        # --- answer cache (in-process LRU or Redis) ---
        # `kind` is the cached answer type: similar_books, search_by_text, get_book.
        self.cache_hits = Counter(
            "smartlib_cache_hits_total", "Answers served from the cache.", ("backend", "kind"), registry=r
        )
        self.cache_misses = Counter(
            "smartlib_cache_misses_total", "Cache lookups that had to compute the answer.", ("backend", "kind"), registry=r
        )
        self.cache_errors = Counter(
            "smartlib_cache_errors_total",
            "Cache operations that failed and were skipped (fail-open), by operation: get, set, invalidate.",
            ("backend", "operation"),
            registry=r,
        )
        self.cache_circuit_open = Gauge(
            "smartlib_cache_circuit_open", "1 while the cache circuit breaker skips the backend.", ("backend",), registry=r
        )
        self.memory_circuit_open = Gauge(
            "smartlib_memory_circuit_open",
            "1 while the conversation-memory circuit breaker skips Redis (chat memory calls fail fast).",
            registry=r,
        )

        # --- security ---
        self.insecure = Gauge(
            "smartlib_insecure",
            "1 while the server listens beyond loopback with no token (SMARTLIB_ALLOW_INSECURE=true).",
            registry=r,
        )

        self.anonymous_reads = Gauge(
            "smartlib_anonymous_reads",
            "1 while the server listens beyond loopback and answers reads without a token "
            "(SMARTLIB_ALLOW_ANONYMOUS_READS=true, or SMARTLIB_ALLOW_INSECURE=true); writes still need one.",
            registry=r,
        )

        # --- admission control (api/admission.py) ---
        self.admission_rejected = Counter(
            "smartlib_admission_rejected_total",
            "Calls turned away with RESOURCE_EXHAUSTED because every slot was taken, by kind: calls or streams.",
            ("kind",),
            registry=r,
        )

        # --- background threads: alive, and how far the change follower got ---
        # worker: row_warmer, change_follower, batcher_query, batcher_book, batcher_encoder.
        self.worker_up = Gauge(
            "smartlib_worker_up",
            "1 while a background thread runs, read at scrape time; 0 once it has died or not started.",
            ("worker",),
            registry=r,
        )
        self.batch_queue_items = Gauge(
            "smartlib_inference_batch_queue_items",
            "Items waiting for a shared forward pass, read at scrape time.",
            ("batcher",),
            registry=r,
        )
        self.change_log_applied = Gauge(
            "smartlib_change_log_applied_seq",
            "The last change-log sequence number this replica's serving index has applied.",
            registry=r,
        )
        self.change_log_synced = Gauge(
            "smartlib_change_log_synced_timestamp_seconds",
            "Unix time of the change follower's last round that read the change log and applied all of it.",
            registry=r,
        )

        self.quality_gate_overrides = Counter(
            "smartlib_quality_gate_overrides_total",
            "Encoder activations forced past the quality gate (ActivateVersion force=true).",
            registry=r,
        )

        # --- versions and index sizes ---
        self.versions = Info(
            "smartlib_versions",
            "Active versions: embedder, encoder, knowledge_base, index. One series, relabelled on every swap.",
            registry=r,
        )
        self.index_vectors = Gauge(
            "smartlib_index_vectors", "Vectors in each in-memory index.", ("approach",), registry=r
        )
        self.index_bytes = Gauge(
            "smartlib_index_bytes", "Memory held by each in-memory index.", ("approach",), registry=r
        )
        self.catalog_books = Gauge("smartlib_catalog_books", "Books in the catalog store.", registry=r)

        # --- SimilarBooks rows built ahead (services/recommend/row_warmer.py) ---
        self.reader_rows_built_ahead = Counter(
            "smartlib_reader_rows_built_ahead_total",
            "Reader-ranked SimilarBooks rows the background warmer built before any request asked for them.",
            registry=r,
        )
        self.reader_rows_warm_pending = Gauge(
            "smartlib_reader_rows_warm_pending",
            "Books the warmer's current pass has still to cover; 0 once every row is built.",
            registry=r,
        )

        # --- inference ---
        # backend: local | torchserve; model: embedder | encoder.
        self.inference_seconds = Histogram(
            "smartlib_inference_seconds",
            "Latency of one inference call (a batch), by backend and model.",
            ("backend", "model"),
            buckets=INFERENCE_BUCKETS,
            registry=r,
        )
        self.inference_errors = Counter(
            "smartlib_inference_errors_total",
            "Inference calls that failed, by backend, model and reason: timeout, unavailable, error.",
            ("backend", "model", "reason"),
            registry=r,
        )
        self.inference_fallbacks = Counter(
            "smartlib_inference_fallbacks_total",
            "Calls answered in-process because TorchServe failed or its circuit was open.",
            ("model", "reason"),
            registry=r,
        )
        self.inference_circuit_open = Gauge(
            "smartlib_inference_circuit_open", "1 while the TorchServe circuit breaker is open.", registry=r
        )
        # batcher: query | book | encoder (adapters/batching.py)
        self.batch_size = Histogram(
            "smartlib_inference_batch_size", "Items (query texts, books, vectors) per shared forward pass.",
            ("batcher",), buckets=BATCH_SIZE_BUCKETS, registry=r,
        )
        self.batch_wait_seconds = Histogram(
            "smartlib_inference_batch_wait_seconds", "How long the oldest item of a batch waited for it to start.",
            ("batcher",), buckets=BATCH_WAIT_BUCKETS, registry=r,
        )
        self.query_cache_lookups = Counter(
            "smartlib_query_cache_lookups_total", "Query-embedding cache lookups by result: hit or miss.",
            ("result",), registry=r,
        )

        # --- chat ---
        self.chat_active_streams = Gauge(
            "smartlib_chat_active_streams", "Open ChatService.Converse streams.", registry=r
        )
        self.chat_first_event_seconds = Histogram(
            "smartlib_chat_first_event_seconds",
            "Time from receiving a user turn to the first event sent for it.",
            buckets=CHAT_BUCKETS,
            registry=r,
        )
        self.chat_turns = Counter(
            "smartlib_chat_turns_total",
            "Chat turns finished, by language (en, pt) and outcome (done, cancelled, error).",
            ("language", "outcome"),
            registry=r,
        )

        # --- experiments: labelled by experiment and arm only ---
        self.experiment_exposures = Counter(
            "smartlib_experiment_exposures_total",
            "RecommendForUser responses served, per experiment arm.",
            ("experiment", "arm"),
            registry=r,
        )
        self.experiment_outcomes = Counter(
            "smartlib_experiment_outcomes_total",
            "Interactions linked to an experiment response, by outcome: click, like, read.",
            ("experiment", "arm", "outcome"),
            registry=r,
        )

        # --- jobs: ingestion, embedding, training ---
        self.ingest_rows = Counter(
            "smartlib_ingest_rows_total",
            "Catalog rows processed, by outcome: imported, updated, unchanged, duplicates_merged, rejected.",
            ("outcome",),
            registry=r,
        )
        self.books_embedded = Counter(
            "smartlib_books_embedded_total", "Books embedded into 2688-d vectors.", registry=r
        )
        self.training_steps = Counter(
            "smartlib_training_steps_total", "Optimiser steps taken by encoder training.", registry=r
        )
        self.training_epochs = Counter(
            "smartlib_training_epochs_total", "Encoder training epochs completed.", registry=r
        )
        self.training_loss = Gauge(
            "smartlib_training_loss", "Loss of the most recent training step.", registry=r
        )

    # Small helpers for the call sites that would otherwise repeat label plumbing.

    def set_versions(self, versions: Mapping[str, str]) -> None:
        """Replaces the version info labels, e.g. {"embedder": ..., "index": ...}."""
        self.versions.info({str(k): str(v) for k, v in versions.items()})

    def set_index_sizes(self, vectors: Mapping[str, int], nbytes: Mapping[str, int] | None = None) -> None:
        """Sets the per-approach index gauges; approaches missing from `vectors` drop to 0."""
        for approach in ("baseline", "finetuned"):
            self.index_vectors.labels(approach=approach).set(vectors.get(approach, 0))
            if nbytes is not None:
                self.index_bytes.labels(approach=approach).set(nbytes.get(approach, 0))

    def watch_worker(self, worker: str, alive: Callable[[], bool]) -> None:
        """Publishes `alive()` as smartlib_worker_up{worker=...}, read at every scrape."""
        self.worker_up.labels(worker=worker).set_function(lambda: 1.0 if alive() else 0.0)

    def watch_batcher(self, batcher: str, alive: Callable[[], bool], queued: Callable[[], int]) -> None:
        """Publishes a batcher's thread liveness and its waiting items, read at every scrape."""
        self.watch_worker(f"batcher_{batcher}", alive)
        self.batch_queue_items.labels(batcher=batcher).set_function(lambda: float(queued()))

    def change_log_caught_up(self, applied_seq: int) -> None:
        """Records a change-follower round that applied the whole change log it read."""
        self.change_log_applied.set(applied_seq)
        self.change_log_synced.set_to_current_time()

    @contextlib.contextmanager
    def time_inference(self, backend: str, model: str) -> Iterator[None]:
        """Times the block into `smartlib_inference_seconds`; a raising block counts as an error."""
        start = time.perf_counter()
        try:
            yield
        except TimeoutError:
            self.inference_errors.labels(backend=backend, model=model, reason="timeout").inc()
            raise
        except Exception:
            self.inference_errors.labels(backend=backend, model=model, reason="error").inc()
            raise
        finally:
            self.inference_seconds.labels(backend=backend, model=model).observe(time.perf_counter() - start)

    def observe_batch(self, batcher: str, items: int, waited_s: float) -> None:
        """Records one batch of `batcher` (DynamicBatcher's observe hook)."""
        self.batch_size.labels(batcher=batcher).observe(items)
        self.batch_wait_seconds.labels(batcher=batcher).observe(waited_s)

    @contextlib.contextmanager
    def chat_stream(self) -> Iterator[None]:
        """Counts the block as one open chat stream."""
        self.chat_active_streams.inc()
        try:
            yield
        finally:
            self.chat_active_streams.dec()


@dataclass
class MetricsEndpoint:
    """A running /metrics HTTP server."""

    host: str
    port: int
    _server: object
    _thread: object

    def close(self) -> None:
        self._server.shutdown()  # type: ignore[attr-defined]
        self._server.server_close()  # type: ignore[attr-defined]
        self._thread.join(timeout=5)  # type: ignore[attr-defined]


def serve_metrics(metrics: ServerMetrics, host: str, port: int) -> MetricsEndpoint:
    """Serves `metrics.registry` at http://host:port/metrics in a daemon thread.

    Args:
        metrics: the server's metrics.
        host: address to bind; the server binds the same host as gRPC.
        port: TCP port; 0 picks a free one (tests), the bound port is in the result.

    Returns:
        The endpoint; call `close()` on shutdown.

    Raises:
        OSError: the port is taken or the host cannot be bound.
    """
    server, thread = start_http_server(port, addr=host, registry=metrics.registry)
    return MetricsEndpoint(host=host, port=server.server_port, _server=server, _thread=thread)


def start_metrics_endpoint(settings, metrics: ServerMetrics) -> MetricsEndpoint | None:
    """Starts /metrics on `settings.grpc_host:settings.metrics_port`; None when the port is 0 (off)."""
    if settings.metrics_port == 0:
        return None
    return serve_metrics(metrics, settings.grpc_host, settings.metrics_port)
