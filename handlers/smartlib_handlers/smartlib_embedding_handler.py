"""TorchServe handler: book field records or query texts -> 2688-d vectors.

It calls the very functions the in-process path uses (smartlib_core.embedding and
smartlib_core.runtime), so both tiers produce the same vectors from the same code.
"""
from __future__ import annotations

import json
import logging
import os

import numpy as np

from smartlib_core import runtime
from smartlib_core.embedding import EMBEDDER_ID, assemble, query_vectors
from smartlib_core.torchserve_payload import parse_text_request
from smartlib_handlers.base import SmartLibHandler, split_rows
from smartlib_handlers.batching import parse_batch

log = logging.getLogger(__name__)
EMBEDDER_INFO_FILE = "embedder.json"  # written into the .mar by smartlib_training.mar_export


class SmartLibEmbeddingHandler(SmartLibHandler):
    """Each request is {"books": [[7 fields], ...]} or {"queries": [text, ...]}; the answer is a
    tagged float32 matrix (smartlib_core.torchserve_payload). A dynamic batch costs one MiniLM pass per kind."""

    def load(self, options, model_dir):
        info_path = os.path.join(model_dir, EMBEDDER_INFO_FILE)
        if os.path.isfile(info_path):
            with open(info_path, encoding="utf-8") as f:
                archived = json.load(f).get("embedder_id")
            if archived != EMBEDDER_ID:
                # the archive was built for another field recipe; serving it would mix vector spaces
                raise RuntimeError(f"archive is for embedder {archived!r}, installed code is {EMBEDDER_ID!r}")
        name, cache, threads = self.runtime(options, model_dir)
        self.text_encoder = runtime.text_encoder(name, cache, batch_size=int(options.get("text_batch_size", 32)),
                                                 bf16=bool(options.get("bf16", False)), threads=threads)
        self.text_encoder(["warm up"])  # load the model now, not inside the first request's deadline
        log.info("embedder %s ready on %s", EMBEDDER_ID, type(self.text_encoder).__name__)

    def preprocess(self, data):
        return parse_batch(data, parse_text_request)

    def inference(self, data, *args, **kwargs):
        parsed, errors = data
        outputs: dict[int, np.ndarray] = {}
        for kind in ("books", "queries"):
            members = [(idx, rows) for idx, (k, rows) in parsed.items() if k == kind]
            if not members:
                continue
            merged = [row for _, rows in members for row in rows]
            if kind == "books":
                vectors = assemble(merged, self.text_encoder)
            else:
                vectors = query_vectors(merged, self.text_encoder)
            outputs.update(split_rows(vectors, [(idx, len(rows)) for idx, rows in members]))
        return len(parsed) + len(errors), outputs, errors
