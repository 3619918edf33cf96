"""The quality gate over gRPC and in `smartlib train`: a worse encoder is refused, the old one
keeps serving, and force=true lets it through, counted. Versions trained with a behaviour file
are gated on its figures, not the held-out proxy; an active version whose manifest cannot be
read gates nothing."""
from __future__ import annotations

import dataclasses
import json
import shutil

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
def versions(tmp_path_factory, catalog, ranked_store):
    books, vectors = catalog
    root = tmp_path_factory.mktemp("model_store")
    # The session's ranked_store was trained with exactly GOOD on the same catalog: reuse it.
    assert GOOD == TrainParams(epochs=2, threads=1, batch_size=64)
    good = ranked_store[1]
    shutil.copytree(ranked_store[0] / "encoder" / good, root / "encoder" / good)
    bad = run_train(books, vectors, root, BAD, progress=False)  # no active version given: not gated
    return root, good, bad.name


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
        message = _refusal(admin, bad)
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


def _refusal(admin, version: str) -> str:
    """The message ActivateVersion refuses `version` with (FAILED_PRECONDITION)."""
    with pytest.raises(grpc.RpcError) as refused:
        admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=version))
    assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    return refused.value.details()


def _figures(recall: tuple[float, float, float], ndcg: float) -> dict:
    """Manifest fields as `smartlib train` writes them when a behaviour file matched the catalog
    (tests/unit/training checks that it does): the gate's interval and the held-out proxy."""
    return {"gate": {"behaviour_recall@10": dict(zip(("low", "mean", "high"), recall, strict=True))},
            "metrics": {"finetuned": {"ndcg@10": ndcg}}}


@pytest.fixture
def gated_store(tmp_path, ranked_store):
    """A model store whose versions share one trained encoder (so each passes the canary) and
    differ only in the figures the gate reads."""
    model, _ = artifacts.load_verified(ranked_store[0] / "encoder" / ranked_store[1])
    root = tmp_path / "gated_store"

    def version(recall: tuple[float, float, float], ndcg: float) -> str:
        return artifacts.write_version(root, model, _figures(recall, ndcg)).name

    return root, version


def test_behaviour_figures_gate_activation_and_the_held_out_proxy_stands_aside(make_server, starter_settings, gated_store):
    root, version = gated_store
    active = version((0.33, 0.37, 0.41), ndcg=0.60)
    worse = version((0.18, 0.21, 0.24), ndcg=0.80)  # readers lose; the proxy alone would let it pass
    close = version((0.31, 0.35, 0.39), ndcg=0.40)  # within its noise; the proxy alone would refuse it
    server = make_server(dataclasses.replace(starter_settings, model_store=root, encoder_version=active))
    with server.channel() as channel:
        admin = admin_service_pb2_grpc.AdminServiceStub(channel)
        message = _refusal(admin, worse)
        assert f"behaviour_recall@10 of {worse} is 0.210, below {active}'s 0.370" in message and "ndcg" not in message
        assert server.services.index.finetuned.version == active
        assert admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=close)).active.version == close
        assert server.services.metrics.quality_gate_overrides._value.get() == 0


def test_an_unreadable_active_manifest_lets_the_candidate_through(make_server, starter_settings, gated_store):
    # Fail open: the active version was damaged on disk after it loaded, so there is nothing to
    # compare with; refusing would leave no way forward but force=true.
    root, version = gated_store
    active = version((0.33, 0.37, 0.41), ndcg=0.70)
    worse = version((0.18, 0.21, 0.24), ndcg=0.40)  # refused on both counts while the manifest reads
    server = make_server(dataclasses.replace(starter_settings, model_store=root, encoder_version=active))
    with server.channel() as channel:
        admin = admin_service_pb2_grpc.AdminServiceStub(channel)
        assert "quality gate" in _refusal(admin, worse)
        (root / "encoder" / active / "manifest.json").write_text("{ not json", encoding="utf-8")
        reply = admin.ActivateVersion(ad.ActivateVersionRequest(kind=ENCODER, version=worse))
        assert (reply.active.version, reply.previous_version) == (worse, active)
        assert server.services.metrics.quality_gate_overrides._value.get() == 0  # not counted as forced
