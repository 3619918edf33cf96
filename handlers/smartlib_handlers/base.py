"""The base both TorchServe handlers stand on: one initialize() and one postprocess().

TorchServe takes the one class a handler file defines (classes imported into it do not count),
so each handler file stays one class, a subclass of this one that says only what differs: how
its model loads (`load`), how a request parses (`preprocess`) and what a batch runs
(`inference`).
"""
from __future__ import annotations

import numpy as np
from ts.torch_handler.base_handler import BaseHandler

from smartlib_core.torchserve_payload import vectors_response
from smartlib_handlers.batching import handler_runtime, respond, start


class SmartLibHandler(BaseHandler):
    """Keeps the context, serves on CPU with the configured threads, then calls `load`."""

    def initialize(self, context):
        options, model_dir = start(self, context)
        self.load(options, model_dir)
        self.initialized = True

    def load(self, options: dict, model_dir: str) -> None:
        """Loads the model from `model_dir` with the model config's `handler:` options."""
        raise NotImplementedError

    @staticmethod
    def runtime(options: dict, model_dir: str) -> tuple[str, str, int]:
        """(runtime, export cache, threads): see batching.handler_runtime."""
        return handler_runtime(options, model_dir)

    def postprocess(self, data):
        """(batch size, matrices by request index, errors by request index) -> one answer each."""
        size, outputs, errors = data
        return respond(self.context, size, {i: vectors_response(v) for i, v in outputs.items()}, errors)


def split_rows(matrix: np.ndarray, parts: list[tuple[int, int]]) -> dict[int, np.ndarray]:
    """A batch's output matrix back into each request's rows: `parts` is (request index, rows)
    in the order their rows were concatenated."""
    out: dict[int, np.ndarray] = {}
    begin = 0
    for idx, count in parts:
        out[idx] = matrix[begin : begin + count]
        begin += count
    return out
