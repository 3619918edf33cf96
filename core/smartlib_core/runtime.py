"""One inference runtime for MiniLM (queries and books) and the FINETUNED encoder.

`openvino` (the one preferred), `onnx` (ONNX Runtime) or `torch`. Chosen by measurement under load
(bench/smartlib_bench/runtime_probe.py, README "Performance"): with another process busy on
both cores, torch's intra-op threads lose most of their time to each other, while OpenVINO with
one thread and the bf16 precision hint kept its speed. Torch stays the reference the others are
tested against, and the fallback: a runtime whose package is missing, or whose export fails,
serves through torch with a warning.

The non-torch runtimes run an ONNX export (runtime_export.py) cached under
SMARTLIB_HOME/compiled (runtime_cache.py); a warm cache is served without importing torch.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from smartlib_core.embedding import BLOCK_DIM, MiniLMTextEncoder, model_path, native_bf16, token_batches
from smartlib_core.encoder_weights import EncoderWeights, state_digest
from smartlib_core.minilm import MAX_TOKENS, MiniLMTokenizer, packed_feed, padded_feed
from smartlib_core.runtime_cache import CompiledCache, DigestMemo, cpu_features, model_digest
from smartlib_core.runtime_export import EXPORT_RECIPE, export_encoder, export_minilm

log = logging.getLogger(__name__)

RUNTIMES = ("torch", "openvino", "onnx")
PREFERRED_RUNTIME = "openvino"  # the runtime measured best under load; SMARTLIB_RUNTIME picks
_MODULES = {"openvino": "openvino", "onnx": "onnxruntime"}
ONNX_FILE = "model.onnx"
BLOB_FILE = "model.blob"  # OpenVINO's compiled model (open_session)
BOOK_STREAMS = 2  # book batches use both cores of the 2-core machine this was measured on


def available(name: str) -> bool:
    return name == "torch" or importlib.util.find_spec(_MODULES[name]) is not None


def resolve(name: str) -> str:
    """`name` when its package is installed, else torch (logged once per call)."""
    if name not in RUNTIMES:
        raise ValueError(f"unknown runtime {name!r}: one of {', '.join(RUNTIMES)}")
    if available(name):
        return name
    log.warning("inference runtime %s is not installed (%s); falling back to torch", name, _MODULES[name])
    return "torch"


# OpenVINO's Python binding initialises shared state on the first infer in a process (a
# function-local static that needs the GIL while other threads may hold it). Two first infers at
# once, on any two sessions, deadlocked a 10k bench run for good (py-spy: one stream thread in
# __cxa_guard_acquire holding the GIL, the other waiting for the GIL inside that guard). The first
# infer of the process therefore runs alone; every later one runs freely.
_FIRST_INFER = threading.Lock()
_first_infer_done = False


def _infer(request, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """`request`'s first output for `inputs`; the read is inside the first call's lock too."""
    global _first_infer_done
    if _first_infer_done:
        request.infer(inputs)
        return np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
    with _FIRST_INFER:
        request.infer(inputs)
        output = np.array(request.get_output_tensor(0).data, dtype=np.float32, copy=True)
        _first_infer_done = True
        return output


def runtime_version(name: str) -> str:
    from importlib.metadata import version

    return version({"openvino": "openvino", "onnx": "onnxruntime", "torch": "torch"}[name])


class Session:
    """A loaded export: `run(inputs) -> first output`, callable from any thread.

    `streams` independent executors of `threads` threads each: one call runs on one of them,
    and `run_all` spreads a list of calls over all of them. Unlike torch's intra-op threads,
    two streams never wait for each other inside a pass, so a stream that loses its core to
    another process does not hold the other one spinning.
    """

    def __init__(self, runtime: str, onnx_path: Path, threads: int, bf16: bool, streams: int = 1, *, blob: bool = False) -> None:
        """`blob`: `onnx_path` is an OpenVINO compiled model (`export_blob`), imported, not compiled."""
        self.runtime, self.streams = runtime, streams
        self._local = threading.local()
        self._pool = None  # run_all's threads, made on first use
        self._pool_lock = threading.Lock()
        if runtime == "openvino":
            import openvino as ov

            config = _openvino_config(threads, bf16, streams)
            core = ov.Core()
            if blob:
                self._compiled = core.import_model(Path(onnx_path).read_bytes(), "CPU", config)
            else:
                self._compiled = core.compile_model(core.read_model(str(onnx_path)), "CPU", config)
        else:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

    def export_blob(self) -> bytes:
        """OpenVINO's compiled model, as `Session(..., blob=True)` imports it."""
        return self._compiled.export_model().getvalue()

    def run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        if self.runtime == "onnx":
            return self._session.run(None, inputs)[0]
        request = getattr(self._local, "request", None)
        if request is None:  # an infer request is not thread-safe: one per calling thread
            request = self._local.request = self._compiled.create_infer_request()
        return _infer(request, inputs)

    def run_all(self, feeds: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """`run` of every feed, in order; on all streams at once when there are several."""
        if self.streams == 1 or len(feeds) < 2:
            return [self.run(feed) for feed in feeds]
        with self._pool_lock:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.streams, thread_name_prefix="smartlib-runtime-stream")
        return list(self._pool.map(self.run, feeds))  # each pool thread keeps its own infer request


def _openvino_config(threads: int, bf16: bool, streams: int) -> dict:
    # No pinning: by default each stream's thread is pinned to one core, so on two cores
    # shared with the gRPC threads (and the host's other processes) a query's pass waits
    # for its own core while the other may be idle (README, "Performance").
    return {"INFERENCE_NUM_THREADS": threads * streams, "NUM_STREAMS": streams, "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32", "ENABLE_CPU_PINNING": False}


def open_session(runtime: str, cache_root: Path, name: str, fields: dict[str, str], export: Callable[[Path], None], *,
                 threads: int, bf16: bool, streams: int = 1) -> Session:
    """The session of the export `fields` names, built by `export(directory)` when not cached.

    With OpenVINO the compiled model itself is cached too, in an entry of its own (`<name>-ov`,
    keyed by the export's fields and the session's configuration): importing it took about 0.25 s
    of CPU against 0.55-0.7 s to compile the MiniLM graph, and a start that finds it neither reads
    nor hashes the export (0.14 s for MiniLM's 90 MB). Like the export, a blob whose bytes do not
    match its manifest is deleted and built again, never imported.
    """
    cache = CompiledCache(Path(cache_root))
    if runtime != "openvino":
        return Session(runtime, cache.get_or_build(name, fields, export) / ONNX_FILE, threads, bf16, streams)
    blob_fields = {**fields, "streams": str(streams), "config": json.dumps(_openvino_config(threads, bf16, streams), sort_keys=True)}
    found = cache.find(f"{name}-ov", blob_fields)
    if found is not None:
        return Session(runtime, found / BLOB_FILE, threads, bf16, streams, blob=True)
    session = Session(runtime, cache.get_or_build(name, fields, export) / ONNX_FILE, threads, bf16, streams)
    try:
        cache.get_or_build(f"{name}-ov", blob_fields, lambda temp: (temp / BLOB_FILE).write_bytes(session.export_blob()))
    except Exception:  # the blob only saves the next start's compile
        log.warning("the compiled %s model was not cached", name, exc_info=True)
    return session


def _fields(runtime: str, source: str, threads: int, bf16: bool) -> dict[str, str]:
    return {"source": source, "recipe": EXPORT_RECIPE, "runtime": runtime, "version": runtime_version(runtime),
            "cpu": cpu_features(), "threads": str(threads), "precision": "bf16" if bf16 else "f32"}


class RuntimeTextEncoder:
    """all-MiniLM-L6-v2 through a non-torch runtime; called like MiniLMTextEncoder.

    The tokenizer is the model's own tokenizer.json (the `tokenizers` package, no torch),
    texts are stripped as sentence-transformers strips them, batched shortest first by token
    count, mean-pooled by the exported graph and normalised here in float32. `with_budget`
    gives a view with another token budget over the same loaded model, so queries and books
    share one copy. A call's passes run on `streams` streams at once (books); the view's run in
    the calling thread, one at a time (queries).
    """

    def __init__(self, runtime: str, cache_root: Path, *, batch_size: int = 32, token_budget: int = 2048,
                 threads: int = 1, bf16: bool = True, path: str | None = None, streams: int | None = None) -> None:
        # The bf16 hint only where the CPU computes bf16 itself: elsewhere it would be emulated.
        self.runtime, self.cache_root, self.threads, self.bf16 = runtime, Path(cache_root), threads, bf16 and native_bf16()
        self.batch_size, self.token_budget = batch_size, token_budget
        # Book batches run on every core (a stream each, BOOK_STREAMS at most); queries on one.
        self.streams = streams or _book_streams()
        self.parallel = True
        self.packed = False  # books: a text to a row, sorted by length (little padding, short rows)
        self.bf16_weights = False  # torch's notion; kept so callers can describe any encoder alike
        self._path = path
        self._shared: dict = {}  # the session and tokenizers, shared with every with_budget view
        self._lock = threading.Lock()

    def with_budget(self, token_budget: int) -> "RuntimeTextEncoder":
        view = RuntimeTextEncoder.__new__(RuntimeTextEncoder)
        view.__dict__.update(self.__dict__)
        view.token_budget = token_budget
        view.parallel = False  # a view for queries: their few short passes stay on one stream
        view.packed = True  # and a pass holds the queries back to back, not padded to the longest
        return view

    @property
    def loaded(self) -> bool:
        """Whether the compiled model is in memory (it loads on first use, or at warm-up)."""
        return "session" in self._shared

    @property
    def variant(self) -> str:
        return f"{self.runtime}/{'bf16' if self.bf16 else 'f32'}"

    def _load(self) -> Session:
        with self._lock:
            if "session" not in self._shared:
                directory = Path(self._path or model_path())
                fields = _fields(self.runtime, model_digest(_model_files(directory), DigestMemo(self.cache_root)),
                                 self.threads, self.bf16)
                self._shared["session"] = open_session(
                    self.runtime, self.cache_root, "minilm", fields, lambda temp: export_minilm(str(directory), temp / ONNX_FILE),
                    threads=self.threads, bf16=self.bf16, streams=self.streams)
                self._shared["tokenizer"] = MiniLMTokenizer(directory)
        return self._shared["session"]

    def __call__(self, texts: Sequence[str], max_tokens: int | None = None) -> np.ndarray:
        """Unit vectors of `texts`; `max_tokens` truncates each below the model's own limit."""
        session = self._load()
        ids = self._shared["tokenizer"].ids(list(texts), min(max_tokens or MAX_TOKENS, MAX_TOKENS))
        out = np.zeros((len(ids), BLOCK_DIM), dtype=np.float32)
        lengths = [len(row) for row in ids]
        if self.packed:
            batches, feed = list(packed_batches(lengths, self.token_budget)), packed_feed
        else:
            batches, feed = list(token_batches(lengths, self.batch_size, self.token_budget)), padded_feed
        feeds = [feed(ids, batch) for batch in batches]
        runs = session.run_all(feeds) if self.parallel else [session.run(feed) for feed in feeds]
        for batch, pooled in zip(batches, runs, strict=True):
            pooled = pooled.astype(np.float32, copy=False)
            out[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def packed_batches(lengths: Sequence[int], token_budget: int) -> Iterator[list[int]]:
    """Positions per packed pass, in order: at most `token_budget` real tokens each (a longer text
    rides alone). A packed pass's attention spans its whole row, so the budget keeps rows short:
    at 256 tokens it is about a tenth of the linear layers' work, against padding that cost a
    batch of 4 bench queries 1.65x their tokens (README, "Performance")."""
    batch: list[int] = []
    used = 0
    for position, length in enumerate(lengths):
        if batch and used + length > token_budget:
            yield batch
            batch, used = [], 0
        batch.append(position)
        used += length
    if batch:
        yield batch


def _book_streams() -> int:
    return min(BOOK_STREAMS, os.cpu_count() or 1)


def _model_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.is_file() and p.suffix in (".json", ".safetensors", ".txt")]


class RuntimeEncoder:
    """A FINETUNED BookEncoder through a non-torch runtime; `encode_numpy` as BookEncoder's.

    Keyed by a hash of the weights themselves, so a version loaded from anywhere (a local
    archive, TorchServe's model directory) finds its export. `model` is a BookEncoder or its
    EncoderWeights: with the weights, torch is imported only when the export must be built.
    """

    def __init__(self, runtime: str, cache_root: Path, model, *, threads: int = 1, bf16: bool = True) -> None:
        bf16 = bf16 and native_bf16()
        fields = _fields(runtime, weights_digest(model), threads, bf16)
        self.session = open_session(runtime, cache_root, "encoder", fields,
                                    lambda temp: export_encoder(_torch_module(model), temp / ONNX_FILE), threads=threads, bf16=bf16)

    def encode_numpy(self, vectors: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        out = np.empty((len(vectors), 256), dtype=np.float32)
        for start in range(0, len(vectors), batch_size):
            encoded = self.session.run({"vectors": vectors[start : start + batch_size]})
            norms = np.maximum(np.linalg.norm(encoded, axis=1, keepdims=True), 1e-12)
            out[start : start + len(encoded)] = encoded / norms  # re-normalised in float32 after bf16
        return out


def weights_digest(model) -> str:
    """sha256 over an encoder's state (names, dtypes, shapes and bytes): EncoderWeights' own
    digest, or the same hash of a torch module's state_dict."""
    if isinstance(model, EncoderWeights):
        return model.digest
    return state_digest({name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()})


def _torch_module(model):
    return model.module() if isinstance(model, EncoderWeights) else model


def compiled_encoder(runtime: str, cache_root: Path, model, *, threads: int = 1, bf16: bool = True):
    """`model` (a BookEncoder or its EncoderWeights) as torch runs it for torch, else its runtime
    export; torch too when the export fails."""
    name = resolve(runtime)
    if name == "torch":
        return _torch_module(model)
    try:
        return RuntimeEncoder(name, cache_root, model, threads=threads, bf16=bf16)
    except Exception:  # a runtime that cannot take the graph must not take the encoder down
        log.warning("the %s export of the encoder failed; serving it through torch", name, exc_info=True)
        return _torch_module(model)


def text_encoder(runtime: str, cache_root: Path, *, batch_size: int = 32, bf16: bool = True, threads: int = 1,
                 path: str | None = None):
    """The books' text encoder for `runtime` (resolved: torch when the package is missing)."""
    name = resolve(runtime)
    if name == "torch":  # books on every core: torch's threads cost no more CPU a book there (README)
        return MiniLMTextEncoder(batch_size=batch_size, bf16=bf16, path=path, threads=threads * _book_streams())
    return RuntimeTextEncoder(name, cache_root, batch_size=batch_size, threads=threads, bf16=bf16, path=path)


def query_encoder(books, batch_size: int = 32, path: str | None = None, threads: int = 1):
    """The query encoder beside `books`: a view of the same model where the runtime allows it;
    with torch, a second copy in bf16 weights when books run bf16 (embedding.py says why), else
    a view of the books' model on `threads` threads (books run on every core)."""
    if isinstance(books, RuntimeTextEncoder):
        return books.with_budget(MiniLMTextEncoder.QUERY_TOKEN_BUDGET)
    if books.bf16:
        return MiniLMTextEncoder.for_queries(batch_size, path=path, threads=threads)
    return books.with_threads(threads)
