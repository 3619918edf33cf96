"""manifest.json: sealing, verification, and manifests that must be refused."""
from __future__ import annotations

import hashlib
import json

import pytest

from smartlib_core import manifest as mf
from smartlib_core.errors import InvalidArgument


@pytest.fixture
def version_dir(tmp_path):
    d = tmp_path / "v1"
    (d / "nested").mkdir(parents=True)
    (d / "a.bin").write_bytes(b"\x00\x01" * 1000)
    (d / "nested" / "b.txt").write_text("hello")
    (d / ".tmp-stray").write_text("crash leftover")
    return d


def test_seal_lists_every_file_with_its_sha256_and_skips_temporaries(version_dir):
    manifest = mf.seal(version_dir, "encoder", "v1", note="x")
    assert manifest == json.loads((version_dir / mf.MANIFEST).read_text())
    assert set(manifest["files"]) == {"a.bin", "nested/b.txt"}
    assert manifest["files"]["nested/b.txt"] == {"sha256": hashlib.sha256(b"hello").hexdigest(), "bytes": 5}
    assert (manifest["kind"], manifest["version"], manifest["note"]) == ("encoder", "v1", "x")
    assert manifest["created_at"].endswith("Z")
    mf.verify(version_dir)


def test_verify_names_changed_and_missing_files(version_dir):
    mf.seal(version_dir, "kb", "v1")
    (version_dir / "a.bin").write_bytes(b"tampered")
    (version_dir / "nested" / "b.txt").unlink()
    with pytest.raises(mf.ArtifactIntegrityError) as err:
        mf.verify(version_dir)
    assert "a.bin does not match its sha256" in err.value.message
    assert "nested/b.txt is missing" in err.value.message


def test_a_directory_without_a_manifest_is_refused(version_dir):
    with pytest.raises(mf.ArtifactIntegrityError, match="no manifest.json"):
        mf.verify(version_dir)


@pytest.mark.parametrize("path", ["../outside", "/etc/passwd", "a/../../b", "manifest.json"])
def test_unsafe_paths_in_a_manifest_are_refused(path):
    raw = json.dumps({"version": "v1", "files": {path: {"sha256": "0" * 64}}}).encode()
    with pytest.raises(mf.ArtifactIntegrityError, match="unsafe path"):
        mf.parse(raw, "test")


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b'{"files": {"a": {"sha256": "short"}}}'])
def test_malformed_manifests_are_refused(raw):
    with pytest.raises(mf.ArtifactIntegrityError):
        mf.parse(raw, "test")


def test_plain_path_to_digest_manifests_verify_too(version_dir):
    # Training writes {"files": {path: sha256}}; both shapes must verify the same way.
    digest = mf.sha256_file(version_dir / "a.bin")
    (version_dir / "nested" / "b.txt").unlink()
    (version_dir / mf.MANIFEST).write_text(json.dumps({"version": "v1", "files": {"a.bin": digest}}))
    mf.verify(version_dir)
    (version_dir / "a.bin").write_bytes(b"changed")
    with pytest.raises(mf.ArtifactIntegrityError):
        mf.verify(version_dir)


def test_identity_must_match_where_the_manifest_was_found():
    mf.check_identity({"kind": "kb", "version": "v1"}, "kb", "v1", "here")
    mf.check_identity({}, "encoder", "v1", "here")  # absent fields are not a contradiction
    with pytest.raises(mf.ArtifactIntegrityError, match="describes kb/v1, not kb/v2"):
        mf.check_identity({"kind": "kb", "version": "v1"}, "kb", "v2", "here")
    with pytest.raises(mf.ArtifactIntegrityError):
        mf.check_identity({"kind": "encoder", "version": "v1"}, "kb", "v1", "here")


@pytest.mark.parametrize("version", ["", "../x", "a/b", ".hidden", "x" * 129, "v 1"])
def test_unsafe_version_names_are_invalid(version):
    with pytest.raises(InvalidArgument):
        mf.check_version(version)


def test_unknown_kinds_are_invalid():
    with pytest.raises(InvalidArgument):
        mf.check_kind("weights")
