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
EXPORT_RECIPE = "3"  # 3: MiniLM traced from bert.py instead of transformers' BertModel


def export_minilm(model_dir: str, target: Path) -> None:
    """all-MiniLM-L6-v2's transformer plus mean pooling: (input_ids, attention_mask) -> (n, 384).

    Traced from the plain-torch BERT the torch runtime serves (bert.py), so a cold cache does not
    import transformers either; its attention traces to plain MatMul/Softmax, which every runtime
    fuses itself. The output is not normalised; the caller does that in float32, as
    sentence-transformers does, so a bf16 runtime's rounding never reaches the norm.
    """
    import torch

    from smartlib_core.bert import load_model

    bert = load_model(model_dir)

    class MeanPooled(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return bert(input_ids, attention_mask)

    ids = torch.ones((2, 8), dtype=torch.int64)
    with torch.inference_mode():
        torch.onnx.export(
            MeanPooled().eval(), (ids, torch.ones_like(ids)), str(target), dynamo=False, opset_version=OPSET,
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
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
