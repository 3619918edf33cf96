"""VectorIndex.vectors reads many stored vectors in one call: the same bytes as vector() one by
one, in the order asked, a zero row for an id not indexed, for every index kind."""
from __future__ import annotations

import numpy as np
import pytest

from smartlib_core.embedding import normalise
from smartlib_server.services.recommend.vector_index import VectorIndex


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_vectors_equal_one_by_one_reads_in_the_order_asked(kind):
    rng = np.random.default_rng(11)
    stored = normalise(rng.standard_normal((600, 16)).astype(np.float32))
    options = {"nlist": 8, "nprobe": 4} if kind == "ivf" else {}
    index = VectorIndex(16, kind, **options)
    index.upsert([f"b{i}" for i in range(600)], stored)
    index.remove(["b7"])
    asked = ["b42", "missing", "b7", "b3", "b42", "b599"]
    got = index.vectors(asked)
    for row, book_id in zip(got, asked, strict=True):
        one = index.vector(book_id)
        np.testing.assert_array_equal(row, np.zeros(16, np.float32) if one is None else one)
    assert not got[1].any() and not got[2].any() and got[0].any()
    assert index.vectors([]).shape == (0, 16)
