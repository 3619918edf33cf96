"""The quality gate over gRPC and in `smartlib train`: a worse encoder is refused, the old one
keeps serving, and force=true lets it through, counted."""
from __future__ import annotations

import dataclasses
import json

import grpc
import pytest

from smartlib.v1 import admin_service_pb2 as ad, admin_service_pb2_grpc, recommend_service_pb2 as rs, recommend_service_pb2_grpc
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.adapters.catalog_store import sqlite_store
from smartlib_training import artifacts
from smartlib_training.pipeline import QualityGateRefused, run_train
from smartlib_training.train import TrainParams

ENCODER = ad.VERSION_KIND_ENCODER
GOOD = TrainParams(epochs=2, threads=1, batch_size=64)
# Deliberately worse: no linear shortcut and one slow epoch leave a near-random 256-d projection.
BAD = TrainParams(epochs=1, threads=1, batch_size=64, shortcut=False, lr=1e-5, seed=3)


@pytest.fixture(scope="module")
def catalog(starter_sqlite):
    store = sqlite_store(starter_sqlite)
    books = {b.id: b for b in store.all_books()}
    ids, vectors = store.load_vectors(EMBEDDER_ID)
    store.close()
    return [books[i] for i in ids], vectors


@pytest.fixture(scope="module")
def versions(tmp_path_factory, catalog):
    books, vectors = catalog
    root = tmp_path_factory.mktemp("model_store")
    good = run_train(books, vectors, root, GOOD, progress=False)
    bad = run_train(books, vectors, root, BAD, progress=False)  # no active version given: not gated
    return root, good.name, bad.name


def _ndcg(root, version) -> float:
    return json.loads((root / "encoder" / version / "manifest.json").read_text())["metrics"]["finetuned"]["ndcg@10"]


def test_activation_refuses_a_worse_encoder_and_the_old_one_keeps_serving(make_server, starter_settings, versions):
    root, good, bad = versions
    assert _ndcg(root, bad) + 0.02 < _ndcg(root, good)  # the premise: it really is worse
    server = make_server(dataclasses.replace(starter_settings, model_store=root, encoder_version=good))
    with server.channel() as channel:
        admin = admin_service_pb2_grpc.AdminServiceStub(channel)
        recommend = recommend_service_pb2_grpc.RecommendServiceStub(channel)
        book_id = sorted(server.services.index.books)[0]
        with pytest.raises(grpc.RpcError) as refused:
            admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=bad))
        assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        message = refused.value.details()
        assert "quality gate" in message and "ndcg@10" in message and "force=true" in message
        assert f"{_ndcg(root, bad):.3f}" in message and f"{_ndcg(root, good):.3f}" in message
        assert good in recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=5)).model_version
        assert server.services.metrics.quality_gate_overrides._value.get() == 0

        forced = admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=bad, force=True))
        assert forced.active.version == bad and forced.previous_version == good
        assert server.services.metrics.quality_gate_overrides._value.get() == 1
        assert bad in recommend.SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=5)).model_version
        # Rolling back restores a choice already made: never gated.
        assert admin.Rollback(ad.RollbackRequest(kind=ENCODER)).active.version == good
        # A better candidate is never refused, and re-activating the active one is a no-op check.
        assert admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=good)).active.version == good


def test_training_refuses_to_write_a_worse_encoder_unless_forced(tmp_path, catalog, versions):
    root, good, _ = versions
    books, vectors = catalog
    active = (good, artifacts.read_manifest(root / "encoder" / good))
    store = tmp_path / "store"
    with pytest.raises(QualityGateRefused, match=r"held-out ndcg@10 of the new encoder .* --force"):
        run_train(books, vectors, store, BAD, progress=False, active=active)
    assert not (store / "encoder").exists() or not list((store / "encoder").iterdir())
    forced = run_train(books, vectors, store, BAD, progress=False, active=active, force=True)
    assert artifacts.load_verified(forced)[1]["version"] == forced.name
