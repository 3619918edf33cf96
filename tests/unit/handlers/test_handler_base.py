"""Both handlers stand on SmartLibHandler, and TorchServe still finds exactly one class in each file."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from ts.utils.util import list_classes_from_module

from smartlib_handlers.base import SmartLibHandler, split_rows


@pytest.mark.parametrize("module_name, class_name", [
    ("smartlib_handlers.smartlib_embedding_handler", "SmartLibEmbeddingHandler"),
    ("smartlib_handlers.smartlib_encoder_handler", "SmartLibEncoderHandler"),
])
def test_torchserve_finds_the_one_handler_class_and_it_uses_the_base(module_name, class_name):
    module = importlib.import_module(module_name)
    found = list_classes_from_module(module)  # what TorchServe's model loader calls on the file
    assert [c.__name__ for c in found] == [class_name]
    handler = found[0]
    assert issubclass(handler, SmartLibHandler)
    assert handler.initialize is SmartLibHandler.initialize and handler.postprocess is SmartLibHandler.postprocess


def test_split_rows_gives_each_request_its_own_rows_in_order():
    matrix = np.arange(12, dtype=np.float32).reshape(6, 2)
    parts = split_rows(matrix, [(4, 1), (0, 3), (9, 2)])
    assert sorted(parts) == [0, 4, 9]
    assert parts[4].tolist() == [[0, 1]]
    assert parts[0].tolist() == [[2, 3], [4, 5], [6, 7]]
    assert parts[9].tolist() == [[8, 9], [10, 11]]
