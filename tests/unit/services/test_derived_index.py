"""A restart reuses the FINETUNED encoding and neighbour table only for exactly the same inputs."""
from __future__ import annotations

import logging

import numpy as np
import pytest

from smartlib_core.domain import Book
from smartlib_server.services.recommend.derived_index import DerivedIndexStore, mapped_member
from smartlib_server.services.recommend.serving_index import FinetunedModel, with_index
from smartlib_server.services.recommend.vector_index import VectorIndex

N, RAW_DIM = 120, 2688


class CountingEncoder:
    """A fixed random projection to 256-d that counts the vectors it encodes."""

    def __init__(self):
        self.projection = np.random.default_rng(0).standard_normal((RAW_DIM, 256)).astype(np.float32)
        self.encoded = 0

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        self.encoded += len(raw)
        return raw @ self.projection


@pytest.fixture
def inputs():
    rng = np.random.default_rng(1)
    ids = [f"b{i}" for i in range(N)]
    books = {i: Book(id=i, title=i, authors=("A",), num_ratings=n * 10) for n, i in enumerate(ids)}
    return ids, rng.standard_normal((N, RAW_DIM)).astype(np.float32), books


def model(encoder: CountingEncoder, fingerprint: str = "local:abc") -> FinetunedModel:
    return FinetunedModel("v1", encoder, VectorIndex(256), popularity_weight=0.1,
                          prior=lambda book: book.num_ratings / 1000, fingerprint=fingerprint)


def answers(index: VectorIndex, ids: list[str]) -> list:
    return [index.neighbours(i, 30, bias_weight=0.1) for i in ids]


def test_a_restart_reuses_the_stored_arrays_and_answers_the_same(tmp_path, inputs):
    ids, raw, books = inputs
    derived, encoder = DerivedIndexStore(tmp_path), CountingEncoder()
    first = with_index(model(encoder), ids, raw, books, derived=derived)
    assert encoder.encoded == N and len(list(tmp_path.glob("*.npz"))) == 1
    again = with_index(model(encoder), ids, raw, books, derived=derived)
    assert encoder.encoded == N  # nothing encoded, no table computed
    assert answers(again.index, ids) == answers(first.index, ids)
    np.testing.assert_array_equal(again.index.vector("b7"), first.index.vector("b7"))


@pytest.mark.parametrize("change", ["vector", "prior", "ids", "encoder"])
def test_any_change_to_the_inputs_computes_afresh(tmp_path, inputs, change):
    ids, raw, books = inputs
    derived, encoder = DerivedIndexStore(tmp_path), CountingEncoder()
    with_index(model(encoder), ids, raw, books, derived=derived)
    fingerprint = "local:abc"
    if change == "vector":
        raw = raw.copy()
        raw[3, 5] += 1.0
    elif change == "prior":
        books = dict(books, b3=Book(id="b3", title="b3", authors=("A",), num_ratings=99_999))
    elif change == "ids":
        ids = ids[1:] + ids[:1]
        raw = np.concatenate([raw[1:], raw[:1]])
    else:
        fingerprint = "local:another-encoder"
    changed = with_index(model(encoder, fingerprint), ids, raw, books, derived=derived)
    assert encoder.encoded == 2 * N
    plain = with_index(model(CountingEncoder(), fingerprint), ids, raw, books)  # no store at all
    assert answers(changed.index, ids) == answers(plain.index, ids)


def test_an_unreadable_file_is_recomputed_and_replaced(tmp_path, inputs, caplog):
    ids, raw, books = inputs
    derived, encoder = DerivedIndexStore(tmp_path), CountingEncoder()
    first = with_index(model(encoder), ids, raw, books, derived=derived)
    [stored] = tmp_path.glob("*.npz")
    stored.write_bytes(stored.read_bytes()[:1000])  # a torn file, as a crash or a full disk leaves
    with caplog.at_level(logging.WARNING):
        again = with_index(model(encoder), ids, raw, books, derived=derived)
    assert "unreadable derived index" in caplog.text and encoder.encoded == 2 * N
    assert answers(again.index, ids) == answers(first.index, ids)
    with_index(model(encoder), ids, raw, books, derived=derived)
    assert encoder.encoded == 2 * N  # the rewritten file serves the next restart


def test_a_model_without_a_fingerprint_is_never_stored(tmp_path, inputs):
    ids, raw, books = inputs
    with_index(model(CountingEncoder(), fingerprint=""), ids, raw, books, derived=DerivedIndexStore(tmp_path))
    assert not list(tmp_path.glob("*"))


def test_old_files_and_torn_writes_are_cleared(tmp_path, inputs):
    import os

    from smartlib_core import atomic
    from smartlib_server.services.recommend.derived_index import KEEP

    ids, raw, books = inputs
    derived = DerivedIndexStore(tmp_path)
    torn = tmp_path / f"{atomic.TEMP_PREFIX}x.npz.abc"
    torn.write_bytes(b"half")
    os.utime(torn, (0, 0))  # long ago: its writer is gone
    for n in range(KEEP + 2):
        with_index(model(CountingEncoder(), f"local:{n}"), ids, raw, books, derived=derived)
    assert len(list(tmp_path.glob("*.npz"))) == KEEP and not torn.exists()


def _member_data_offset(path, name: str) -> int:
    """Where member `name`'s array bytes begin in the archive (after its .npy header)."""
    with np.load(path) as stored:
        return mapped_member(path, stored.zip, name).offset


@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_a_mapped_array_equals_the_stored_one_and_cannot_be_written(tmp_path, dtype):
    derived = DerivedIndexStore(tmp_path)
    arrays = {"unit": np.arange(3000, dtype=dtype).reshape(100, 30), "ids": np.array(["a", "b"]),
              "empty": np.zeros((0, 4), dtype=np.float32)}
    derived.save("k", arrays)
    loaded = derived.load("k", mapped=("unit", "empty"))
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype
    assert isinstance(loaded["unit"], np.memmap) and not loaded["unit"].flags.writeable


def test_a_flipped_bit_in_a_mapped_array_is_caught_by_its_crc(tmp_path, caplog):
    derived = DerivedIndexStore(tmp_path)
    derived.save("k", {"unit": np.ones((100, 30), dtype=np.float32), "ids": np.array(["a"])})
    path = tmp_path / "k.npz"
    data = bytearray(path.read_bytes())
    data[_member_data_offset(path, "unit") + 4 * 1500] ^= 0x01  # one bit of one float, mid-array
    path.write_bytes(bytes(data))
    assert derived.load("k", ("ids",), mapped=("ids",)) is not None  # the damaged member is not read here
    with caplog.at_level(logging.WARNING):
        assert derived.load("k", mapped=("unit",)) is None
    assert "CRC" in caplog.text
    with caplog.at_level(logging.WARNING):
        assert derived.load("k") is None  # np.load's own check agrees


def test_a_compressed_member_is_read_not_mapped(tmp_path):
    array = np.arange(600, dtype=np.float32).reshape(20, 30)
    with open(tmp_path / "k.npz", "wb") as out:
        np.savez_compressed(out, unit=array)
    loaded = DerivedIndexStore(tmp_path).load("k", mapped=("unit",))
    np.testing.assert_array_equal(loaded["unit"], array)
    assert not isinstance(loaded["unit"], np.memmap)
