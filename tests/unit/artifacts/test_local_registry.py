"""LocalRegistry specifics; the push/pull contract shared with GCS is in
tests/integration/test_gcs_registry.py, which runs it against both backends."""
from __future__ import annotations

import json

import pytest

from smartlib_core import manifest as mf
from smartlib_core.errors import AlreadyExists, InvalidArgument
from smartlib_server.artifacts.registry import ArtifactNotFound, GcsRegistry, LocalRegistry, open_registry
from smartlib_server.config import Settings


@pytest.fixture
def sealed(tmp_path):
    d = tmp_path / "src" / "v1"
    d.mkdir(parents=True)
    (d / "weights.bin").write_bytes(bytes(range(256)) * 64)
    mf.seal(d, "encoder", "v1")
    return d


@pytest.fixture
def registry(tmp_path):
    return LocalRegistry(tmp_path / "registry")


def test_push_refuses_local_files_that_fail_their_manifest(registry, sealed):
    (sealed / "weights.bin").write_bytes(b"changed after sealing")
    with pytest.raises(mf.ArtifactIntegrityError, match="weights.bin does not match"):
        registry.push("encoder", sealed)
    assert registry.list_versions("encoder") == []
    assert not registry.root.exists()  # nothing was uploaded at all


def test_push_refuses_an_unsealed_directory(registry, tmp_path):
    (tmp_path / "v2").mkdir()
    with pytest.raises(mf.ArtifactIntegrityError, match="seal the directory"):
        registry.push("encoder", tmp_path / "v2")


def test_push_refuses_a_manifest_of_another_kind(registry, sealed):
    with pytest.raises(mf.ArtifactIntegrityError, match="describes encoder/v1, not kb/v1"):
        registry.push("kb", sealed)


def test_pushing_the_same_version_again_is_a_no_op_but_different_files_are_refused(registry, sealed):
    first = registry.push("encoder", sealed)
    assert registry.push("encoder", sealed) == first
    (sealed / "weights.bin").write_bytes(b"retrained")
    mf.seal(sealed, "encoder", "v1")
    with pytest.raises(AlreadyExists, match="immutable"):
        registry.push("encoder", sealed)


def test_pull_into_a_folder_that_already_has_the_version(registry, sealed, tmp_path):
    registry.push("encoder", sealed)
    dest = tmp_path / "dest"
    first = registry.pull("encoder", "v1", dest)
    assert registry.pull("encoder", "v1", dest) == first  # identical: nothing to do
    (first / "weights.bin").write_bytes(b"local damage")
    with pytest.raises(mf.ArtifactIntegrityError):
        registry.pull("encoder", "v1", dest)


def test_pull_of_an_unknown_version_or_bad_names(registry, tmp_path):
    with pytest.raises(ArtifactNotFound):
        registry.pull("encoder", "v9", tmp_path / "dest")
    with pytest.raises(InvalidArgument):
        registry.pull("encoder", "../../etc", tmp_path / "dest")
    with pytest.raises(InvalidArgument):
        registry.list_versions("nope")


def test_a_manifest_stored_under_the_wrong_version_is_not_listed_or_pulled(registry, sealed, tmp_path):
    registry.push("encoder", sealed)
    moved = registry.root / "encoder" / "v2"
    (registry.root / "encoder" / "v1").rename(moved)
    assert registry.list_versions("encoder") == []
    with pytest.raises(mf.ArtifactIntegrityError, match="describes encoder/v1"):
        registry.pull("encoder", "v2", tmp_path / "dest")


def test_training_style_manifest_without_kind_round_trips(registry, tmp_path):
    d = tmp_path / "2026-11-26-a"
    d.mkdir()
    (d / "encoder.safetensors").write_bytes(b"weights")
    manifest = {"files": {"encoder.safetensors": mf.sha256_file(d / "encoder.safetensors")}}
    (d / mf.MANIFEST).write_text(json.dumps(manifest))
    info = registry.push("encoder", d)
    assert (info.version, info.files) == ("2026-11-26-a", 1)
    pulled = registry.pull("encoder", "2026-11-26-a", tmp_path / "dest")
    assert (pulled / "encoder.safetensors").read_bytes() == b"weights"


def test_open_registry_chooses_gcs_only_when_a_bucket_is_set(tmp_path):
    local = open_registry(Settings(home=tmp_path))
    assert isinstance(local, LocalRegistry) and local.root == tmp_path / "registry"
    gcs = open_registry(Settings(home=tmp_path, gcs_bucket="kb-bucket", gcs_endpoint="http://127.0.0.1:9"))
    assert isinstance(gcs, GcsRegistry)
    assert gcs._where("kb", "v1") == "gs://kb-bucket/kb/v1"
