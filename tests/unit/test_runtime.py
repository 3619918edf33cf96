"""The inference runtime (smartlib_core.runtime): its vectors match the fp32 torch reference,
a damaged or stale export is rebuilt and never served, and torch answers when it is missing."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
import types

import numpy as np
import pytest
import torch

from smartlib_core import runtime
from smartlib_core.embedding import native_bf16
from smartlib_core.encoder_model import BookEncoder
from smartlib_core.runtime_cache import MANIFEST, CompiledCache

BOUND = 0.999  # issue 25: cosine to the fp32 torch reference on every text
TEXTS = [
    "Dune",
    "space opera about galactic empires",
    "A desert planet, a noble family betrayed, and a boy who becomes a prophet. " * 20,  # cut at 256 tokens
    "  Jane Austen  ",
    "Ünïcode tïtle — with accents",
    "livros de fantasia com dragões",
    "epic fantasy with complex political intrigue, multiple points of view, morally grey characters",
]
INSTALLED = [name for name in ("openvino", "onnx") if runtime.available(name)]


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("compiled")


@pytest.fixture(scope="module")
def encoder_model() -> BookEncoder:
    torch.manual_seed(7)
    return BookEncoder().eval()


@pytest.mark.parametrize("name", INSTALLED)
def test_minilm_vectors_match_the_fp32_reference(name, cache_root, text_encoder):
    reference = text_encoder(TEXTS)
    served = runtime.text_encoder(name, cache_root)
    assert isinstance(served, runtime.RuntimeTextEncoder)
    ours = served(TEXTS)
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert (ours * reference).sum(axis=1).min() >= BOUND  # row i is text i, within the bound
    # The query view shares the loaded model and honours the query token cap.
    queries = runtime.query_encoder(served)
    assert queries._shared is served._shared and queries.token_budget < served.token_budget
    np.testing.assert_allclose(queries(TEXTS[:2], max_tokens=64), ours[:2], atol=2e-3)
    assert served([]).shape == (0, 384)


@pytest.mark.parametrize("name", INSTALLED)
def test_queries_share_one_packed_row_and_keep_their_own_vectors(name, cache_root, text_encoder, monkeypatch):
    queries = runtime.query_encoder(runtime.text_encoder(name, cache_root))
    session = queries._load()
    feeds = []
    original = session.run
    monkeypatch.setattr(session, "run", lambda feed: feeds.append(feed) or original(feed))
    texts = [text for text in TEXTS if len(text) < 200]  # lengths 3 to 25 tokens
    packed = queries(texts, max_tokens=64)
    assert len(feeds) == 1 and feeds[0]["input_ids"].shape[0] == 1  # one row, no padding
    assert feeds[0]["input_ids"].shape[1] == sum(len(row) for row in session_ids(queries, texts))
    # Each query attends to its own tokens only: its vector is the one it gets alone.
    assert (packed * text_encoder(texts, max_tokens=64)).sum(axis=1).min() >= BOUND
    padded = runtime.query_encoder(runtime.text_encoder(name, cache_root))
    padded.packed = False
    np.testing.assert_allclose(packed, padded(texts, max_tokens=64), atol=2e-3)
    assert list(runtime.packed_batches([5, 9, 3, 40, 2], 16)) == [[0, 1], [2], [3], [4]]  # a long one rides alone


def session_ids(encoder, texts):
    return encoder._shared["tokenizer"].ids(texts, 64)


@pytest.mark.parametrize("name", INSTALLED)
def test_encoder_vectors_match_the_torch_encoder(name, cache_root, encoder_model):
    served = runtime.compiled_encoder(name, cache_root, encoder_model)
    assert isinstance(served, runtime.RuntimeEncoder)
    vectors = np.random.default_rng(3).standard_normal((64, 2688)).astype(np.float32)
    cosines = (served.encode_numpy(vectors, batch_size=24) * encoder_model.encode_numpy(vectors)).sum(axis=1)
    assert cosines.min() >= BOUND


def _single_export(root, kind: str = "encoder-"):
    """The one cache entry of `kind`: "encoder-" the ONNX export, "encoder-ov-" OpenVINO's compiled blob."""
    exports = [p for p in root.iterdir() if p.name.startswith(kind) and (kind.endswith("-ov-") or "-ov-" not in p.name)]
    assert len(exports) == 1
    return exports[0]


def _damage(directory, data_file: str, damage: str) -> None:
    path = directory / data_file
    data = bytearray(path.read_bytes())
    if damage == "corrupt":  # flip bytes in the middle of the weights: same size, still parses
        data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
        path.write_bytes(bytes(data))
    elif damage == "truncate":
        path.write_bytes(bytes(data[: len(data) // 3]))
    elif damage == "no manifest":  # a crash between the files and the manifest
        (directory / MANIFEST).unlink()
    else:  # the manifest names another key (written by an older build under this name)
        manifest = json.loads((directory / MANIFEST).read_text())
        manifest["key"]["version"] = "0.0.0"
        (directory / MANIFEST).write_text(json.dumps(manifest))


@pytest.mark.skipif(not INSTALLED, reason="neither openvino nor onnxruntime is installed")
@pytest.mark.parametrize("damage", ["corrupt", "truncate", "no manifest", "stale key"])
def test_a_damaged_or_stale_export_is_rebuilt_never_served(damage, tmp_path, encoder_model, monkeypatch):
    name = INSTALLED[0]
    vectors = np.random.default_rng(5).standard_normal((8, 2688)).astype(np.float32)
    good = runtime.compiled_encoder(name, tmp_path, encoder_model).encode_numpy(vectors)
    directory = _single_export(tmp_path)
    key = json.loads((directory / MANIFEST).read_text())["key"]
    _damage(directory, runtime.ONNX_FILE, damage)
    if name == "openvino":  # a good compiled blob would be served without reading the export at all
        shutil.rmtree(_single_export(tmp_path, "encoder-ov-"))
    built = []
    original = runtime.export_encoder
    monkeypatch.setattr(runtime, "export_encoder", lambda model, target: built.append(target) or original(model, target))
    again = runtime.compiled_encoder(name, tmp_path, encoder_model).encode_numpy(vectors)
    assert len(built) == 1  # rebuilt, not served as found
    np.testing.assert_array_equal(again, good)
    assert CompiledCache(tmp_path).valid(_single_export(tmp_path), key)
    runtime.compiled_encoder(name, tmp_path, encoder_model)
    assert len(built) == 1  # a good export is served as found


@pytest.mark.skipif("openvino" not in INSTALLED, reason="openvino is not installed")
@pytest.mark.parametrize("damage", ["corrupt", "truncate", "no manifest", "stale key"])
def test_a_damaged_or_stale_compiled_blob_is_rebuilt_never_imported(damage, tmp_path, encoder_model, monkeypatch):
    vectors = np.random.default_rng(6).standard_normal((8, 2688)).astype(np.float32)
    good = runtime.compiled_encoder("openvino", tmp_path, encoder_model).encode_numpy(vectors)
    blob = _single_export(tmp_path, "encoder-ov-")
    key = json.loads((blob / MANIFEST).read_text())["key"]
    _damage(blob, runtime.BLOB_FILE, damage)
    opened = []
    original = runtime.Session.__init__

    def spy(self, runtime_name, path, *args, **kwargs):
        opened.append(kwargs.get("blob", False))
        original(self, runtime_name, path, *args, **kwargs)

    monkeypatch.setattr(runtime.Session, "__init__", spy)
    again = runtime.compiled_encoder("openvino", tmp_path, encoder_model).encode_numpy(vectors)
    assert opened == [False]  # compiled from the export again, the damaged blob never imported
    np.testing.assert_array_equal(again, good)
    assert CompiledCache(tmp_path).valid(_single_export(tmp_path, "encoder-ov-"), key)  # and stored anew
    np.testing.assert_array_equal(runtime.compiled_encoder("openvino", tmp_path, encoder_model).encode_numpy(vectors), good)
    assert opened == [False, True]  # a good blob is imported as found


def test_a_new_key_builds_beside_the_old_one(tmp_path):
    cache = CompiledCache(tmp_path)
    calls = []

    def build(directory):
        calls.append(directory)
        (directory / "model.bin").write_bytes(b"x" * 10)

    first = cache.get_or_build("m", {"threads": "1"}, build)
    assert cache.get_or_build("m", {"threads": "1"}, build) == first and len(calls) == 1
    second = cache.get_or_build("m", {"threads": "2"}, build)
    assert second != first and len(calls) == 2
    (first / "extra.bin").write_bytes(b"planted")  # a file the manifest does not list
    assert not cache.valid(first, {"threads": "1"})


def test_a_failed_build_leaves_nothing_to_serve(tmp_path):
    cache = CompiledCache(tmp_path)

    def broken(directory):
        (directory / "model.bin").write_bytes(b"half")
        raise RuntimeError("export failed")

    with pytest.raises(RuntimeError):
        cache.get_or_build("m", {"k": "v"}, broken)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["openvino", "onnx"])
def test_torch_serves_when_the_runtime_is_missing(name, monkeypatch, tmp_path, encoder_model):
    monkeypatch.setitem(sys.modules, runtime._MODULES[name], None)  # as if not installed
    assert runtime.resolve(name) == "torch"
    books = runtime.text_encoder(name, tmp_path)
    assert type(books).__name__ == "MiniLMTextEncoder"
    queries = runtime.query_encoder(books)  # torch keeps its own bf16-weights copy only where bf16 is native
    assert (queries is not None and queries.bf16_weights) == native_bf16()
    assert runtime.compiled_encoder(name, tmp_path, encoder_model) is encoder_model
    assert list(tmp_path.iterdir()) == []  # nothing exported


def test_the_torch_encoder_serves_when_the_export_fails(monkeypatch, tmp_path, encoder_model):
    def fail(model, target):
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(runtime, "export_encoder", fail)
    name = INSTALLED[0] if INSTALLED else "openvino"
    assert runtime.compiled_encoder(name, tmp_path, encoder_model) is encoder_model


def test_an_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="unknown runtime"):
        runtime.resolve("tensorflow")


@pytest.mark.parametrize("name", ["openvino", "onnx", "torch"])
def test_the_server_builds_its_inference_on_the_configured_runtime(name, tmp_path):
    from smartlib_server.app import build_inference
    from smartlib_server.config import Settings
    from smartlib_server.metrics import ServerMetrics

    inference = build_inference(Settings(home=tmp_path, runtime=name), ServerMetrics())
    try:
        local = inference.inner
        if runtime.resolve(name) == "torch":
            assert type(local.text_encoder).__name__ == "MiniLMTextEncoder" and local.query_encoder.bf16_weights == native_bf16()
        else:  # one loaded model for books and queries, exports under SMARTLIB_HOME/compiled
            assert local.text_encoder.runtime == name and local.query_encoder._shared is local.text_encoder._shared
            assert local.text_encoder.cache_root == tmp_path / "compiled"
        assert f"runtime={name}" in inference.cache.version  # cached query vectors name their runtime
    finally:
        inference.close()


@pytest.mark.skipif(not INSTALLED, reason="neither openvino nor onnxruntime is installed")
def test_a_cold_cache_exports_minilm_without_importing_transformers(tmp_path):
    script = ("import sys; from smartlib_core import runtime; "
              f"runtime.text_encoder({INSTALLED[0]!r}, {str(tmp_path)!r})(['warm-up']); "
              "print(sorted(m for m in ('transformers', 'sentence_transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert any(p.name.startswith("minilm-") for p in tmp_path.iterdir())  # it did export, into the cold cache


@pytest.mark.parametrize("native", [True, False])
def test_the_bf16_hint_is_asked_only_where_the_cpu_has_bf16(native, monkeypatch, tmp_path, encoder_model):
    monkeypatch.setattr(runtime, "native_bf16", lambda: native)
    precision = "bf16" if native else "f32"
    assert runtime.RuntimeTextEncoder("openvino", tmp_path, bf16=True).variant == f"openvino/{precision}"
    if INSTALLED:  # the export's key names the precision the runtime was asked for
        runtime.RuntimeEncoder(INSTALLED[0], tmp_path, encoder_model, bf16=True)
        manifest = json.loads((_single_export(tmp_path) / MANIFEST).read_text())
        assert manifest["key"]["precision"] == precision


@pytest.mark.parametrize("bf16", [True, False])
def test_torch_runs_queries_on_one_thread_and_books_on_every_core(bf16, tmp_path, monkeypatch):
    monkeypatch.setattr(runtime.os, "cpu_count", lambda: 2)
    books = runtime.text_encoder("torch", tmp_path, threads=1, bf16=bf16)
    queries = runtime.query_encoder(books, threads=1)
    seen = []

    def call(encoder):
        encoder(["a short text"])
        seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(3)  # what a thread started now would inherit
    try:
        for encoder in (books, queries):  # each in a thread of its own, as the batchers run them
            worker = threading.Thread(target=call, args=(encoder,))
            worker.start()
            worker.join()
    finally:
        torch.set_num_threads(before)
    assert seen == [2, 1]
    if not queries.bf16_weights:  # without a bf16 copy, queries share the books' loaded model
        assert queries._model is books._model is not None


@pytest.mark.parametrize("installed", [True, False])
def test_the_default_settings_serve_openvino_else_torch(installed, monkeypatch, tmp_path):
    from smartlib_server.app import build_inference
    from smartlib_server.config import Settings
    from smartlib_server.metrics import ServerMetrics

    if not installed:
        monkeypatch.setitem(sys.modules, "openvino", None)  # as if the package were missing
    elif not runtime.available("openvino"):
        pytest.skip("openvino is not installed here")
    settings = Settings.from_env({}, home=tmp_path)
    assert settings.runtime == "openvino"  # the default, chosen by measurement (README, Performance)
    inference = build_inference(settings, ServerMetrics())
    try:
        books = inference.inner.text_encoder
        if installed:
            assert books.runtime == "openvino" and books.bf16 == native_bf16()
        else:  # torch answers, queries on one intra-op thread per calling thread
            assert type(books).__name__ == "MiniLMTextEncoder"
            assert inference.inner.query_encoder.threads == 1
            assert inference.inner.query_encoder.bf16_weights == native_bf16()
    finally:
        inference.close()


@pytest.mark.skipif(not INSTALLED, reason="neither openvino nor onnxruntime is installed")
def test_book_batches_run_on_every_stream_in_order_and_queries_on_one(cache_root, monkeypatch):
    texts = [f"{text} {i}" for i in range(6) for text in TEXTS]  # many passes at batch_size 4
    one = runtime.RuntimeTextEncoder(INSTALLED[0], cache_root, batch_size=4, streams=1)(texts)
    books = runtime.RuntimeTextEncoder(INSTALLED[0], cache_root, batch_size=4, streams=2)
    books(["warm-up"])
    session = books._shared["session"]
    callers = []
    original = session.run

    def run(feed):
        callers.append(threading.get_ident())
        time.sleep(0.01)  # long enough that both stream threads take passes
        return original(feed)

    monkeypatch.setattr(session, "run", run)
    np.testing.assert_allclose(books(texts), one, atol=1e-5)  # each row is still its own text's
    assert len(set(callers)) == 2 and threading.get_ident() not in callers
    callers.clear()
    runtime.query_encoder(books)(texts[:12])
    assert len(callers) > 1 and set(callers) == {threading.get_ident()}  # queries: the caller's thread


@pytest.mark.skipif(not runtime.available("openvino"), reason="openvino is not installed here")
def test_openvino_streams_are_not_pinned_to_cores(cache_root):
    # A pinned stream thread cannot move to an idle core while the gRPC threads hold its own:
    # SearchByText at c8 served 1.25-2.3x the req/s unpinned (README, Performance).
    books = runtime.text_encoder("openvino", cache_root)
    books(["warm-up"])
    assert books._shared["session"]._compiled.get_property("ENABLE_CPU_PINNING") is False


class _OverlapRecordingRequest:
    """A stand-in infer request that counts how many infers run at the same moment."""

    active = 0
    most = 0
    guard = threading.Lock()

    def infer(self, inputs):
        cls = type(self)
        with cls.guard:
            cls.active += 1
            cls.most = max(cls.most, cls.active)
        time.sleep(0.05)  # long enough that the other thread's first infer would overlap
        with cls.guard:
            cls.active -= 1

    def get_output_tensor(self, index):
        return types.SimpleNamespace(data=np.zeros((1, 2), dtype=np.float32))


def test_the_first_openvino_infer_of_the_process_runs_alone(monkeypatch):
    # Two first infers at once deadlocked OpenVINO's binding (runtime._FIRST_INFER's comment).
    monkeypatch.setattr(runtime, "_first_infer_done", False)
    _OverlapRecordingRequest.most = 0
    start = threading.Barrier(2)

    def first_infer():
        start.wait()
        runtime._infer(_OverlapRecordingRequest(), {})

    threads = [threading.Thread(target=first_infer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _OverlapRecordingRequest.most == 1 and runtime._first_infer_done
    _OverlapRecordingRequest.most = 0  # once done, infers overlap freely (no lock on the hot path)
    threads = [threading.Thread(target=first_infer) for _ in range(2)]
    start.reset()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _OverlapRecordingRequest.most == 2
