"""TorchServe handler: 2688-d vectors -> the FINETUNED encoder's 256-d unit vectors.

Weights come from the archive's safetensors file through smartlib_core.encoder_model, the
same code the in-process path uses, so loading never unpickles anything.
"""
from __future__ import annotations

import logging
import os

import numpy as np

from smartlib_core import runtime
from smartlib_core.encoder_model import INPUT_DIM, WEIGHTS_FILE, load_weights
from smartlib_core.torchserve_payload import vectors_from_bytes
from smartlib_handlers.base import SmartLibHandler, split_rows
from smartlib_handlers.batching import parse_batch

log = logging.getLogger(__name__)


class SmartLibEncoderHandler(SmartLibHandler):
    """Each request is raw float32 rows of 2688; a dynamic batch runs as one forward pass."""

    def load(self, options, model_dir):
        weights = self.manifest.get("model", {}).get("serializedFile") or WEIGHTS_FILE
        if not weights.endswith(".safetensors"):
            raise RuntimeError(f"refusing to load {weights!r}: only safetensors weights are accepted")
        name, cache, threads = self.runtime(options, model_dir)
        self.model = runtime.compiled_encoder(name, cache, load_weights(os.path.join(model_dir, weights)),
                                              threads=threads, bf16=bool(options.get("bf16", False)))
        log.info("encoder %s ready on %s", weights, type(self.model).__name__)

    def preprocess(self, data):
        return parse_batch(data, lambda payload: vectors_from_bytes(payload, INPUT_DIM))

    def inference(self, data, *args, **kwargs):
        parsed, errors = data
        outputs: dict[int, np.ndarray] = {}
        if parsed:
            order = sorted(parsed)
            encoded = self.model.encode_numpy(np.concatenate([parsed[i] for i in order]))
            outputs = split_rows(encoded, [(idx, len(parsed[idx])) for idx in order])
        return len(parsed) + len(errors), outputs, errors
