"""Model inference behind one small interface: in-process (default) or TorchServe."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Protocol

import numpy as np

from smartlib_core.embedding import TextEncoder, assemble, place_query


class PendingRows:
    """Rows being computed for a caller that has other work meanwhile: `result()` waits for
    them. Inference that does not batch computes them at once and hands them over here.

    `future`, when there is one, completes once `result()` no longer waits (its batch has run),
    so the event loop can await it (`asyncio.wrap_future`) instead of parking a thread on it;
    None: the rows are here already. Cancelling it withdraws a query still queued."""

    __slots__ = ("_rows", "_wait", "future")

    def __init__(self, rows: np.ndarray | None = None, wait: Callable[[], np.ndarray] | None = None,
                 future: Future | None = None) -> None:
        self._rows, self._wait, self.future = rows, wait, future

    def result(self) -> np.ndarray:
        """The rows; raises whatever computing them raised."""
        if self._wait is not None:
            self._rows, self._wait = self._wait(), None
        return self._rows


class Inference(Protocol):
    """Turns text into 2688-d vectors and 2688-d vectors into the encoder's 256-d space.

    Everything callers use is declared here; LocalInference, TorchServeInference and the
    batching wrapper all provide it.
    """

    backend: str  # "local" or "torchserve", for metrics and logs
    fallback: "Inference | None"  # what answers when this one cannot (TorchServe's in-process fallback)
    # True when `start_queries` only queues (never computes or waits), so the event loop may call it
    queues_queries: bool

    def for_encoder(self, version: str, model) -> "Inference":
        """The same inference with `model` (encoder `version`) as its encoder.

        Raises:
            ConfigError: the backend cannot serve that version (a local archive that fails its
                checksum).
        """
        ...

    def ready(self) -> bool:
        """Whether it answers a real inference now (in-process: always)."""
        ...

    def close(self) -> None:
        """Releases connections and worker threads; the object is not used afterwards."""
        ...

    def embed_books(self, records: Sequence[Sequence[str]]) -> np.ndarray:
        """records: the 7 field texts per book (embedding.book_fields) -> (n, 2688) float32."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Free-text queries -> (n, 2688) float32 laid out by embedding.query_vectors."""
        ...

    def start_queries(self, texts: Sequence[str]) -> PendingRows:
        """embed_queries for a caller with work to do while the rows are computed (SearchByText
        runs its lexical step while its query waits for a batch)."""
        ...

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 2688) -> (n, 256) unit vectors with the active encoder.

        Raises:
            FailedPrecondition: no encoder is active.
        """
        ...


class LocalInference:
    """Runs the embedder and the encoder inside the server process."""

    backend = "local"
    fallback = None  # nothing behind in-process inference
    queues_queries = False  # start_queries computes the rows at once

    def __init__(self, text_encoder: TextEncoder, encoder=None, query_max_tokens: int = 0,
                 query_encoder: TextEncoder | None = None, compile_encoder: Callable | None = None):
        self.text_encoder = text_encoder
        self.query_encoder = query_encoder or text_encoder  # queries may use their own (bf16 weights)
        self.encoder = encoder  # anything with BookEncoder's encode_numpy, or None
        self.query_max_tokens = query_max_tokens  # 0: the model's own limit; see config.py
        # BookEncoder -> what serves it (smartlib_core.runtime.compiled_encoder); None: the model itself
        self.compile_encoder = compile_encoder

    def embed_books(self, records: Sequence[Sequence[str]]) -> np.ndarray:
        return assemble(records, self.text_encoder)

    def start_queries(self, texts: Sequence[str]) -> PendingRows:
        return PendingRows(self.embed_queries(texts))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not self.query_max_tokens:
            return place_query(self.query_encoder(list(texts)))
        return place_query(self.query_encoder(list(texts), max_tokens=self.query_max_tokens))

    def encode(self, vectors: np.ndarray) -> np.ndarray:
        from smartlib_core.errors import FailedPrecondition

        if self.encoder is None:
            raise FailedPrecondition("no FINETUNED encoder is active; train one with `smartlib train`")
        return self.encoder.encode_numpy(vectors)

    def for_encoder(self, version: str, model) -> "LocalInference":
        served = self.compile_encoder(model) if self.compile_encoder is not None and model is not None else model
        return LocalInference(self.text_encoder, served, self.query_max_tokens, self.query_encoder, self.compile_encoder)

    def ready(self) -> bool:
        return True

    def close(self) -> None:
        return None
