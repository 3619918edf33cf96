"""AdminService over gRPC for knowledge bases: list, activate, roll back, and refuse a damaged or
unknown one while the active knowledge base keeps serving."""
from __future__ import annotations

import grpc
import pytest

from smartlib.v1 import (
    admin_service_pb2 as ad,
    admin_service_pb2_grpc,
    books_pb2,
    catalog_service_pb2 as cs,
    catalog_service_pb2_grpc,
    recommend_service_pb2 as rs,
    recommend_service_pb2_grpc,
)
from smartlib_core.embedding import EMBEDDER_ID
from smartlib_server.artifacts import knowledge_base as kb

KB = ad.VERSION_KIND_KNOWLEDGE_BASE


@pytest.fixture
def built(server, channel):
    """Two knowledge bases of the starter catalog; the second also holds one book added between."""
    root = server.services.versions.kb_root
    first = kb.build_kb(server.services.store, EMBEDDER_ID, root).name
    catalog = catalog_service_pb2_grpc.CatalogServiceStub(channel)
    added = catalog.UpsertBooks(cs.UpsertBooksRequest(books=[books_pb2.Book(
        title="The Lighthouse Ledger", authors=["KB Tester"], genres=["Mystery"],
        description="A keeper's ledger records ships that never reached any harbour.")])).ids[0]
    second = kb.build_kb(server.services.store, EMBEDDER_ID, root).name
    return first, second, added


def _similar(channel, book_id: str) -> rs.RecommendResponse:
    return recommend_service_pb2_grpc.RecommendServiceStub(channel).SimilarBooks(rs.SimilarBooksRequest(book_id=book_id, k=5))


def test_activate_and_roll_back_knowledge_bases(server, channel, built):
    first, second, added = built
    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    listed = {v.version: v for v in admin.ListVersions(ad.ListVersionsRequest(kind=KB)).versions}
    assert {first, second} <= listed.keys() and not any(v.active for v in listed.values())

    reply = admin.ActivateVersion(ad.ActivateVersionRequest(kind=KB, version=first))
    assert reply.active.version == first and reply.previous_version == ""
    assert server.services.index.state.source == f"kb:{first}"
    assert len(_similar(channel, added).items) == 5  # the book added after the snapshot is replayed

    reply = admin.ActivateVersion(ad.ActivateVersionRequest(kind=KB, version=second))
    assert (reply.active.version, reply.previous_version) == (second, first)
    assert admin.GetStats(ad.GetStatsRequest()).active_versions["knowledge_base"] == second
    assert [v.version for v in admin.ListVersions(ad.ListVersionsRequest(kind=KB)).versions if v.active] == [second]

    back = admin.Rollback(ad.RollbackRequest(kind=KB))
    assert (back.active.version, back.previous_version) == (first, second)
    assert server.services.index.state.source == f"kb:{first}"
    assert admin.GetStats(ad.GetStatsRequest()).active_versions["knowledge_base"] == first


def test_a_damaged_or_unknown_knowledge_base_is_refused_and_the_active_one_serves(server, channel, built):
    first, second, added = built
    admin = admin_service_pb2_grpc.AdminServiceStub(channel)
    admin.ActivateVersion(ad.ActivateVersionRequest(kind=KB, version=second))
    admin.ActivateVersion(ad.ActivateVersionRequest(kind=KB, version=first))  # second is now the one to roll back to
    vectors = next(p for p in (server.services.versions.kb_root / second).iterdir() if p.suffix == ".npy")
    data = bytearray(vectors.read_bytes())
    data[-16:] = bytes(255 - b for b in data[-16:])  # same size, other bytes
    vectors.write_bytes(bytes(data))
    for version, code in ((second, grpc.StatusCode.FAILED_PRECONDITION), ("no-such-kb", grpc.StatusCode.NOT_FOUND),
                          ("../../etc", grpc.StatusCode.INVALID_ARGUMENT)):
        with pytest.raises(grpc.RpcError) as info:
            admin.ActivateVersion(ad.ActivateVersionRequest(kind=KB, version=version))
        assert info.value.code() == code, (version, info.value.details())
        assert server.services.index.state.source == f"kb:{first}"
        assert len(_similar(channel, added).items) == 5
    with pytest.raises(grpc.RpcError) as info:  # the version to roll back to is the damaged one
        admin.Rollback(ad.RollbackRequest(kind=KB))
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert server.services.index.state.source == f"kb:{first}"
