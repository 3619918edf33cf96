"""A small stand-in for TorchServe's Context: the attributes and calls the handlers and
BaseHandler.handle use, plus a record of the per-request statuses a handler sets."""
from __future__ import annotations

import pytest


class FakeMetrics:
    def __init__(self):
        self.times = []

    def add_time(self, name, value, idx=None, unit="ms"):
        self.times.append((name, value))


class FakeContext:
    def __init__(self, model_dir, manifest=None, yaml_config=None):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": None, "batch_size": 8}
        self.manifest = manifest or {"model": {"modelName": "test"}}
        self.model_yaml_config = yaml_config or {"handler": {"torch_threads": 1}}
        self.metrics = FakeMetrics()
        self.statuses = {}

    def get_request_header(self, idx, key):
        return None

    def set_response_status(self, code=200, phrase="", idx=0):
        self.statuses[idx] = (code, phrase)


@pytest.fixture
def make_context():
    return FakeContext
