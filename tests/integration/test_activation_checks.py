"""Each ActivateVersion check (checksum, dimension, count, canary) refuses a bad encoder over gRPC
while the version already active keeps answering, before, during and after the refusal."""
from __future__ import annotations

import dataclasses
import sqlite3
import threading

import grpc
import pytest
import torch

from smartlib.v1 import admin_service_pb2 as ad, admin_service_pb2_grpc, recommend_service_pb2 as rs, recommend_service_pb2_grpc
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_core.encoder_model import LAYER_DIMS, BookEncoder
from smartlib_training import artifacts

ENCODER = ad.VERSION_KIND_ENCODER


def _write(root, model: BookEncoder) -> str:
    """A complete, correctly signed version directory: only the check under test can refuse it."""
    return artifacts.write_version(root, model, {"metrics": {}}).name


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    torch.manual_seed(7)
    root = tmp_path_factory.mktemp("model_store")
    good = _write(root, BookEncoder())  # untrained: a random projection still keeps each book nearest itself
    narrow = _write(root, BookEncoder(layer_dims=(*LAYER_DIMS[:-1], 128)))  # 128-d output, not 256
    collapsed = BookEncoder()
    with torch.no_grad():
        for parameter in collapsed.parameters():
            parameter.zero_()
        collapsed.net[-1].bias.fill_(1.0)  # every book encodes to the same vector
    collapsed_version = _write(root, collapsed)
    poisoned = BookEncoder()
    with torch.no_grad():
        poisoned.skip.weight.fill_(float("nan"))  # every output is NaN
    # Only the main-genre block reaches the network: books that share a main genre (or have none)
    # encode to one vector, while the catalog as a whole does not collapse.
    partial = BookEncoder(block_weights=(0, 0, 0, 1, 0, 0, 0))
    return root, {"good": good, "narrow": narrow, "collapsed": collapsed_version,
                  "nan": _write(root, poisoned), "partial": _write(root, partial)}


@pytest.fixture
def served(make_server, starter_settings, versions):
    root, names = versions
    settings = dataclasses.replace(starter_settings, model_store=root, encoder_version=names["good"])
    server = make_server(settings)
    with server.channel() as channel:
        yield server, channel, names


def _refused_while_serving(server, channel, version: str) -> grpc.RpcError:
    """Activates `version` under SimilarBooks load; returns the refusal and checks nothing broke."""
    recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    before = server.services.index.finetuned.version
    book = sorted(server.services.index.books)[0]
    stop, failures, seen = threading.Event(), [], set()

    def load() -> None:
        k = 5
        while not stop.is_set():
            k = 5 + (k - 4) % 40  # distinct requests, so the answer cache cannot hide a swap
            try:
                reply = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book, k=k), timeout=10)
                seen.add(reply.model_version)
            except grpc.RpcError as err:
                failures.append(err.code().name)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        with pytest.raises(grpc.RpcError) as info:
            admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=version), timeout=60)
    finally:
        stop.set()
        worker.join()
    assert failures == []
    assert seen and all(before in v for v in seen), seen
    assert server.services.index.finetuned.version == before
    after = recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book, k=3))
    assert before in after.model_version and len(after.items) == 3
    return info.value


def test_checksum_refuses_a_tampered_weights_file(served, versions):
    server, channel, names = served
    root, _ = versions
    tampered = _write(root, BookEncoder())
    weights = root / "encoder" / tampered / "encoder.safetensors"
    data = bytearray(weights.read_bytes())
    data[-8:] = bytes(255 - b for b in data[-8:])  # same size, other bytes
    weights.write_bytes(bytes(data))
    err = _refused_while_serving(server, channel, tampered)
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "sha256" in err.details()


def test_dimension_refuses_an_encoder_of_another_width(served):
    server, channel, names = served
    err = _refused_while_serving(server, channel, names["narrow"])
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "size mismatch" in err.details() and "256" in err.details()


def test_count_refuses_a_candidate_that_misses_served_books(served):
    server, channel, names = served
    missing = sorted(server.services.index.books)[-1]
    with sqlite3.connect(server.services.settings.sqlite_path) as db:  # a vector lost from the store
        db.execute("DELETE FROM vectors WHERE book_id = ? AND embedder_id = ?", (missing, EMBEDDER_ID))
    err = _refused_while_serving(server, channel, _write(server.services.settings.model_store, BookEncoder()))
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "holds" in err.details() and "books" in err.details()


def test_canary_refuses_a_collapsed_encoder(served):
    server, channel, names = served
    err = _refused_while_serving(server, channel, names["collapsed"])
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "canary" in err.details() and "expected the book itself" in err.details()


def test_canary_refuses_an_encoder_with_nan_weights(served):
    server, channel, names = served
    err = _refused_while_serving(server, channel, names["nan"])
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "canary" in err.details() and "no finite vector" in err.details()


def test_canary_refuses_a_partially_collapsed_encoder(served):
    server, channel, names = served
    err = _refused_while_serving(server, channel, names["partial"])
    assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "canary" in err.details() and "expected the book itself" in err.details()


def test_a_good_version_passes_every_check(served, versions):
    server, channel, names = served
    root, _ = versions
    other = _write(root, BookEncoder())
    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    reply = admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=other), timeout=60)
    assert reply.active.version == other and reply.previous_version == names["good"]
