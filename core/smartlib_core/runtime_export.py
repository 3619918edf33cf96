"""Exports the torch models to ONNX, the one format every non-torch runtime here reads.

`torch.onnx.export(..., dynamo=False)` traces the model from the local path and needs only the
`onnx` package: the optimum exporters pull other torch and transformers versions and break the
pinned stack (../shared/PERF_NOTES.md). Only this module imports torch for a runtime; a cached
export is served without it.
"""
from __future__ import annotations

from pathlib import Path

OPSET = 17
# Bump when the exported graph changes (inputs, pooling, opset): every cached export is rebuilt.
# 4: MiniLM takes texts packed into rows (bert.MeanPooledBert.rows), so queries pay no padding
EXPORT_RECIPE = "4"
MINILM_INPUTS = ("input_ids", "position_ids", "allowed", "pool")


def export_minilm(model_dir: str, target: Path) -> None:
    """all-MiniLM-L6-v2's transformer plus mean pooling over texts laid into rows, a text to a
    row or several packed in one (minilm.padded_feed, minilm.packed_feed) -> (n, 384).

    Traced from the plain-torch BERT the torch runtime serves (bert.py), so a cold cache does not
    import transformers either; its attention traces to plain MatMul/Softmax, which every runtime
    fuses itself. The output is not normalised; the caller does that in float32, as
    sentence-transformers does, so a bf16 runtime's rounding never reaches the norm.
    """
    import torch

    from smartlib_core.bert import load_model
    from smartlib_core.minilm import padded_feed

    bert = load_model(model_dir)

    class Rows(torch.nn.Module):
        def forward(self, input_ids, position_ids, allowed, pool) -> torch.Tensor:
            return bert.rows(input_ids, position_ids, allowed, pool)

    feed = {name: torch.from_numpy(array) for name, array in padded_feed([[101, 7, 102], [101, 102]], [0, 1]).items()}
    with torch.inference_mode():
        torch.onnx.export(
            Rows().eval(), tuple(feed[name] for name in MINILM_INPUTS), str(target), dynamo=False, opset_version=OPSET,
            input_names=list(MINILM_INPUTS), output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "rows", 1: "tokens"}, "position_ids": {0: "rows", 1: "tokens"},
                          "allowed": {0: "rows", 2: "tokens", 3: "keys"}, "pool": {0: "texts", 1: "slots"},
                          "embedding": {0: "texts"}},
        )


def export_encoder(model, target: Path) -> None:
    """A FINETUNED BookEncoder (smartlib_core.encoder_model): (n, 2688) -> (n, 256) unit vectors."""
    import torch

    from smartlib_core.encoder_model import INPUT_DIM

    with torch.inference_mode():
        torch.onnx.export(
            model.eval(), (torch.zeros((2, INPUT_DIM), dtype=torch.float32),), str(target), dynamo=False,
            opset_version=OPSET, input_names=["vectors"], output_names=["encoded"],
            dynamic_axes={"vectors": {0: "batch"}, "encoded": {0: "batch"}},
        )
