"""The compiled-model cache remembers file digests between starts (runtime_cache.DigestMemo), and
a file changed since it was hashed is hashed again, so a damaged build is still never served."""
from __future__ import annotations

import hashlib
import json
import os

import pytest

from smartlib_core import runtime_cache
from smartlib_core.runtime_cache import DIGESTS, CompiledCache, DigestMemo


@pytest.fixture
def hashed(monkeypatch):
    """The files hashed from now on, in order."""
    seen = []
    original = runtime_cache.file_sha256
    monkeypatch.setattr(runtime_cache, "file_sha256", lambda path: seen.append(path.name) or original(path))
    return seen


def _rewrite_keeping_size_and_mtime(path, data: bytes) -> None:
    """Writes `data` (same length) over `path` in place and sets its mtime back, as a copy tool
    or a careless restore would: only the ctime, which user space cannot set, still moves."""
    stat = path.stat()
    assert len(data) == stat.st_size
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns


def test_a_remembered_file_is_not_hashed_again_by_the_next_start(tmp_path, hashed):
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights" * 1000)
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert DigestMemo(tmp_path).sha256(model) == expected
    assert hashed == ["model.bin"]
    assert DigestMemo(tmp_path).sha256(model) == expected  # a new memo object, as a new process has
    assert hashed == ["model.bin"]


def test_a_file_rewritten_with_its_size_and_mtime_kept_is_hashed_again(tmp_path, hashed):
    model = tmp_path / "model.bin"
    model.write_bytes(b"a" * 4096)
    DigestMemo(tmp_path).sha256(model)
    _rewrite_keeping_size_and_mtime(model, b"b" * 4096)
    assert DigestMemo(tmp_path).sha256(model) == hashlib.sha256(b"b" * 4096).hexdigest()
    assert hashed == ["model.bin", "model.bin"]


@pytest.mark.parametrize("memo", ["not json", "other format", "short entry", "not a dict"])
def test_an_unreadable_memo_is_ignored_and_rewritten(tmp_path, hashed, memo):
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    stat = model.stat()
    entry = [stat.st_size, stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns]  # the right identity, no digest
    text = {"not json": "{", "other format": json.dumps({"format": "other", "files": {str(model): [*entry, "0" * 64]}}),
            "short entry": json.dumps({"format": runtime_cache.DIGEST_FORMAT, "files": {str(model): entry}}),
            "not a dict": json.dumps([1, 2, 3])}[memo]
    (tmp_path / DIGESTS).write_text(text)
    assert DigestMemo(tmp_path).sha256(model) == hashlib.sha256(b"weights").hexdigest()
    assert DigestMemo(tmp_path).sha256(model) == hashlib.sha256(b"weights").hexdigest()
    assert hashed == ["model.bin"]  # hashed once, then remembered in the rewritten memo


def test_two_memos_of_one_root_keep_each_others_digests(tmp_path, hashed):
    first, second = tmp_path / "a.bin", tmp_path / "b.bin"
    first.write_bytes(b"a")
    second.write_bytes(b"b")
    one, other = DigestMemo(tmp_path), DigestMemo(tmp_path)
    one.sha256(first)
    other.sha256(second)
    DigestMemo(tmp_path).sha256(first)
    DigestMemo(tmp_path).sha256(second)
    assert hashed == ["a.bin", "b.bin"]


def test_a_build_damaged_behind_an_unchanged_mtime_is_rebuilt_never_served(tmp_path, hashed):
    cache = CompiledCache(tmp_path)
    built = []

    def build(directory):
        built.append(directory)
        (directory / "model.blob").write_bytes(b"compiled" * 512)

    fields = {"source": "abc", "threads": "1"}
    target = cache.get_or_build("minilm-ov", fields, build)
    assert cache.find("minilm-ov", fields) == target  # verified once: the digest is remembered
    hashed.clear()
    assert CompiledCache(tmp_path).find("minilm-ov", fields) == target
    assert hashed == []  # a later start finds it without hashing it
    _rewrite_keeping_size_and_mtime(target / "model.blob", b"damaged!" * 512)
    assert CompiledCache(tmp_path).find("minilm-ov", fields) is None
    again = CompiledCache(tmp_path).get_or_build("minilm-ov", fields, build)
    assert len(built) == 2 and (again / "model.blob").read_bytes() == b"compiled" * 512
