import json

import numpy as np
import pytest

pytest.importorskip("ts", reason="TorchServe (torchserve==0.12.0) is not installed")

from smartlib_core import torchserve_payload as wire  # noqa: E402
from smartlib_core.embedding import EMBEDDER_ID, assemble, query_vectors  # noqa: E402
from smartlib_handlers import smartlib_embedding_handler as module  # noqa: E402

BOOKS = [
    ["Dune", "Frank Herbert", "A desert planet and its spice.", "Science Fiction", "Science Fiction, Classics",
     "Paul Atreides", "Dune by Frank Herbert. Science Fiction"],
    ["Emma", "Jane Austen", "", "Classics", "Classics, Romance", "", "Emma by Jane Austen. Classics"],
]


@pytest.fixture
def handler(tmp_path, make_context, text_encoder, monkeypatch):
    # reuse the session's loaded MiniLM instead of loading a second copy
    monkeypatch.setattr(module.runtime, "text_encoder", lambda *args, **kwargs: text_encoder)
    (tmp_path / module.EMBEDDER_INFO_FILE).write_text(json.dumps({"embedder_id": EMBEDDER_ID}))
    context = make_context(tmp_path)
    h = module.SmartLibEmbeddingHandler()
    h.initialize(context)
    return h, context


def test_mixed_batch_matches_the_in_process_embedder(handler, text_encoder):
    h, context = handler
    queries = ["a cosy village mystery", "space opera"]
    batch = [
        {"data": bytearray(wire.books_request(BOOKS[:1]))},
        {"data": wire.queries_request(queries)},
        {"data": b"not json"},
        {"data": wire.books_request(BOOKS)},
    ]
    out = h.handle(batch, context)
    assert len(out) == 4
    np.testing.assert_allclose(wire.parse_response(out[0], 2688), assemble(BOOKS[:1], text_encoder), atol=1e-5)
    np.testing.assert_allclose(wire.parse_response(out[1], 2688), query_vectors(queries, text_encoder), atol=1e-5)
    np.testing.assert_allclose(wire.parse_response(out[3], 2688), assemble(BOOKS, text_encoder), atol=1e-5)
    with pytest.raises(wire.RemoteError, match="not UTF-8 JSON"):
        wire.parse_response(out[2], 2688)
    assert list(context.statuses) == [2] and context.statuses[2][0] == 400


def test_missing_fields_stay_zero_blocks(handler):
    h, context = handler
    vectors = wire.parse_response(h.handle([{"data": wire.books_request(BOOKS[1:])}], context)[0], 2688)
    description_block = vectors[0, 2 * 384 : 3 * 384]
    assert not description_block.any()
    assert np.linalg.norm(vectors[0, :384]) == pytest.approx(1.0, abs=1e-5)


def test_refuses_an_archive_built_for_another_embedder(tmp_path, make_context, text_encoder, monkeypatch):
    monkeypatch.setattr(module.runtime, "text_encoder", lambda *args, **kwargs: text_encoder)
    (tmp_path / module.EMBEDDER_INFO_FILE).write_text(json.dumps({"embedder_id": "minilm-l6-v2/2688/v0"}))
    with pytest.raises(RuntimeError, match="installed code is"):
        module.SmartLibEmbeddingHandler().initialize(make_context(tmp_path))
