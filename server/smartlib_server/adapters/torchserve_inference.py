"""Inference through the TorchServe tier's gRPC API, guarded by a circuit breaker.

Every call carries a deadline far below TorchServe's own response timeouts (30-60 s in
model_store/config), so a stuck worker costs a request seconds, not minutes. Any failure of the
tier (connection refused, deadline, a model missing, a malformed answer) counts against the
breaker. With a fallback the call is then answered in-process; without one it raises
Unavailable. While the circuit is open TorchServe is not called at all; after the reset timeout
one trial call goes through, and its success puts TorchServe back in use.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

import grpc
import numpy as np

from smartlib_core import torchserve_payload as wire
from smartlib_core.embedding import DIM
from smartlib_core.errors import FailedPrecondition, InvalidArgument, Unavailable
from smartlib_server import deadlines
from smartlib_server.adapters.circuit_breaker import BreakerState, CircuitBreaker
from smartlib_server.adapters.inference import LocalInference, PendingRows
from smartlib_server.adapters.torchserve_pb import inference_pb2, inference_pb2_grpc

log = logging.getLogger(__name__)

ENCODED_DIM = 256
BOOKS_PER_CALL = 16  # 16 books are up to 112 texts: ~1 s of MiniLM on one core
QUERIES_PER_CALL = 256
VECTORS_PER_CALL = 256  # 2.75 MB of float32, under gRPC's 4 MB default message size
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
    # Reconnect quickly once TorchServe is back; the default backoff grows to 2 minutes. (Not
    # grpc.min_reconnect_backoff_ms: gRPC core uses it as the connect timeout, and 200 ms fails
    # spuriously on a loaded machine.)
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
_MODEL_LABEL = {wire.EMBEDDER_MODEL: "embedder", wire.ENCODER_MODEL: "encoder"}


class TorchServeInference:
    """The Inference protocol served by TorchServe (smartlib_embedder and smartlib_encoder).

    Args:
        target: host:port of TorchServe's gRPC inference API.
        version: the archive version (= encoder version) both models are pinned to; "" leaves
            the embedder unpinned and makes encode() raise FailedPrecondition.
        timeout_s: deadline of one query or encoder call.
        bulk_timeout_s: deadline of one call embedding BOOKS_PER_CALL books (default 5x timeout_s).
        fallback: answers in-process when TorchServe fails; None raises Unavailable instead.
        breaker: shared or tuned breaker; default opens after 3 failures for 2 s.
        metrics: a ServerMetrics, or None.
    """

    backend = "torchserve"
    queues_queries = False  # start_queries calls TorchServe at once (the batching wrapper in front queues)

    def __init__(
        self,
        target: str,
        version: str = "",
        timeout_s: float = 2.0,
        bulk_timeout_s: float | None = None,
        fallback: LocalInference | None = None,
        breaker: CircuitBreaker | None = None,
        metrics=None,
        channel: grpc.Channel | None = None,
    ):
        self.target = target
        self.version = version
        self.timeout_s = timeout_s
        self.bulk_timeout_s = bulk_timeout_s if bulk_timeout_s is not None else 5 * timeout_s
        self.fallback = fallback
        self.metrics = metrics
        self.breaker = breaker or CircuitBreaker(
            "torchserve", failure_threshold=3, reset_timeout_s=2.0, on_state_change=self._on_state_change
        )
        self._channel = channel or grpc.insecure_channel(target, options=CHANNEL_OPTIONS)
        self._stub = inference_pb2_grpc.InferenceAPIsServiceStub(self._channel)
        self._lock = threading.Lock()
        self._counts = {"remote": 0, "fallback": 0, "failed": 0}
        self.model_store = None  # set by from_settings: where archives are verified

    @classmethod
    def from_settings(cls, settings, version: str, fallback: LocalInference | None, metrics=None) -> "TorchServeInference":
        """Built from Settings: torchserve_url, inference_timeout_ms and torchserve_fallback.

        When the version's archives are in the local model store (the `make stack` layout) their
        sha256 must match the manifest, so the server never pins a version whose archives were
        altered after export.

        Raises:
            ConfigError: a local archive of this version does not match its manifest.
        """
        from smartlib_core.archives import ArchiveError, archive_dir, verify_archives
        from smartlib_core.errors import ConfigError

        folder = archive_dir(settings.model_store, version) if version else None
        if folder is not None and folder.is_dir():
            try:
                verify_archives(folder)
            except ArchiveError as exc:
                raise ConfigError(f"SMARTLIB_ENCODER_VERSION={version}: {exc}") from None
        inference = cls(
            settings.torchserve_url, version=version, timeout_s=settings.inference_timeout_ms / 1000,
            fallback=fallback if settings.torchserve_fallback else None, metrics=metrics,
        )
        inference.model_store = settings.model_store
        return inference

    def for_encoder(self, version: str, model) -> "TorchServeInference":
        """A view pinned to another encoder version, sharing this one's channel and breaker.

        Its fallback runs `model` (the same weights) in-process, so a hot swap never mixes
        vectors of two versions whichever side answers.
        """
        from smartlib_core.archives import ArchiveError, archive_dir, verify_archives
        from smartlib_core.errors import ConfigError

        folder = archive_dir(self.model_store, version) if self.model_store else None
        if folder is not None and folder.is_dir():
            try:
                verify_archives(folder)
            except ArchiveError as exc:
                raise ConfigError(f"encoder {version}: {exc}") from None
        fallback = (LocalInference(self.fallback.text_encoder, model, self.fallback.query_max_tokens,
                                   self.fallback.query_encoder) if self.fallback is not None else None)
        view = TorchServeInference(
            self.target, version=version, timeout_s=self.timeout_s, bulk_timeout_s=self.bulk_timeout_s,
            fallback=fallback, breaker=self.breaker, metrics=self.metrics, channel=self._channel,
        )
        view.model_store = self.model_store
        return view

    # --- the Inference protocol ---

    def embed_books(self, records: Sequence[Sequence[str]]) -> np.ndarray:
        records = [tuple(r) for r in records]
        if any(len(r) != wire.FIELDS_PER_BOOK for r in records):
            raise InvalidArgument(f"each book needs {wire.FIELDS_PER_BOOK} field texts")
        parts = [
            self._predict(
                wire.EMBEDDER_MODEL, wire.books_request(chunk), DIM, self.bulk_timeout_s,
                local=lambda chunk=chunk: self.fallback.embed_books(chunk),
            )
            for chunk in _chunks(records, BOOKS_PER_CALL)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, DIM), np.float32)

    def start_queries(self, texts: Sequence[str]) -> PendingRows:
        return PendingRows(self.embed_queries(texts))  # the batching wrapper in front overlaps

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        parts = [
            self._predict(
                wire.EMBEDDER_MODEL, wire.queries_request(chunk), DIM, self.timeout_s,
                local=lambda chunk=chunk: self.fallback.embed_queries(chunk),
            )
            for chunk in _chunks(texts, QUERIES_PER_CALL)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, DIM), np.float32)

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        if not self.version:
            raise FailedPrecondition("no FINETUNED encoder is active; train one with `smartlib train`")
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != DIM:
            raise InvalidArgument(f"encode needs (n, {DIM}) vectors, got shape {vectors.shape}")
        parts = [
            self._predict(
                wire.ENCODER_MODEL, wire.vectors_to_bytes(chunk), ENCODED_DIM, self.timeout_s,
                local=lambda chunk=chunk: self.fallback.encode(chunk),
            )
            for chunk in _chunks(vectors, VECTORS_PER_CALL)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, ENCODED_DIM), np.float32)

    # --- operations ---

    def ready(self) -> bool:
        """True when TorchServe answers a real tiny inference on each model in time.

        /ping only says the Java frontend is up; this proves a worker loaded the pinned version
        and computes. It bypasses the breaker and never falls back.
        """
        try:
            self._remote(wire.EMBEDDER_MODEL, wire.queries_request(["ready"]), DIM, self.timeout_s)
            if self.version:
                self._remote(wire.ENCODER_MODEL, wire.vectors_to_bytes(np.zeros((1, DIM), np.float32)),
                             ENCODED_DIM, self.timeout_s)
        except (grpc.RpcError, wire.WireError, wire.RemoteError) as exc:
            log.info("TorchServe at %s is not ready: %s", self.target, _describe(exc))
            return False
        return True

    def stats(self) -> dict[str, int]:
        """Calls answered by TorchServe ("remote"), in-process ("fallback"), or not at all ("failed")."""
        with self._lock:
            return dict(self._counts)

    def close(self) -> None:
        self._channel.close()

    # --- internals ---

    def _remote(self, model: str, payload: bytes, dim: int, timeout_s: float) -> np.ndarray:
        request = inference_pb2.PredictionsRequest(
            model_name=model, model_version=self.version, input={wire.INPUT_KEY: payload}
        )
        answer = self._stub.Predictions(request, timeout=deadlines.cap(timeout_s))  # never past the caller's deadline
        return wire.parse_response(answer.prediction, dim)

    def _predict(self, model: str, payload: bytes, dim: int, timeout_s: float, local: Callable[[], np.ndarray]) -> np.ndarray:
        if not self.breaker.allow():
            return self._fall_back(model, "circuit_open", local, None)
        try:
            if self.metrics is not None:
                with self.metrics.time_inference(self.backend, _MODEL_LABEL[model]):
                    vectors = self._remote(model, payload, dim, timeout_s)
            else:
                vectors = self._remote(model, payload, dim, timeout_s)
        except wire.RemoteError as exc:
            # TorchServe is healthy and refused this request: the input is at fault, not the tier
            self.breaker.record_success()
            raise InvalidArgument(f"the {_MODEL_LABEL[model]} refused the input: {exc}") from None
        except (grpc.RpcError, wire.WireError) as exc:
            self.breaker.record_failure()
            return self._fall_back(model, _reason(exc), local, exc)
        self.breaker.record_success()
        self._count("remote")
        return vectors

    def _fall_back(self, model: str, reason: str, local: Callable[[], np.ndarray], exc: Exception | None) -> np.ndarray:
        if exc is not None:
            log.warning("TorchServe %s call failed (%s): %s", model, reason, _describe(exc))
        if self.fallback is None:
            self._count("failed")
            raise Unavailable(
                "the inference tier is unavailable; retry shortly",
                retry_after=max(self.breaker.retry_after(), 0.5),
            )
        if self.metrics is not None:
            self.metrics.inference_fallbacks.labels(model=_MODEL_LABEL[model], reason=reason).inc()
        self._count("fallback")
        return local()

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def _on_state_change(self, old: BreakerState, new: BreakerState) -> None:
        log.warning("TorchServe circuit %s -> %s", old.value, new.value)
        if self.metrics is not None:
            self.metrics.inference_circuit_open.set(1 if new is BreakerState.OPEN else 0)


def _chunks(items, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _reason(exc: Exception) -> str:
    if isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
        return "timeout"
    if isinstance(exc, grpc.RpcError) and exc.code() == grpc.StatusCode.UNAVAILABLE:
        return "unavailable"
    return "error"


def _describe(exc: Exception) -> str:
    if isinstance(exc, grpc.RpcError):
        return f"{exc.code().name}: {exc.details()}"
    return str(exc)
