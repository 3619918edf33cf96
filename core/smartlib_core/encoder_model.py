"""The FINETUNED encoder: an MLP 2688 -> 1536 -> 1024 -> 512 -> 256 with a unit-length output.

Shared by training, the in-process server path and the TorchServe encoder handler. Weights are
stored as safetensors, so loading never unpickles anything.

The input passes through a fixed per-dimension scale (one weight per 384-d block) and is then
L2-normalised. The scale is a buffer, saved with the weights, so serving applies exactly the
block weighting the model was trained with; normalising makes a book with missing blocks (zero
blocks) look like any other input to the first layer.

A bias-free linear shortcut 2688 -> 256 runs beside the MLP and the two outputs are summed.
Training starts it at the principal components of the weighted input and the MLP's last layer
at zero, so the model begins as a faithful linear projection of the raw space (which keeps
same-author and same-series neighbours) and the MLP learns the corrections. Without it, the
MLP lost most of that identity structure (see the README's ablation).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from smartlib_core.encoder_layout import INPUT_DIM, LAYER_DIMS, OUTPUT_DIM, WEIGHTS_FILE

BLOCK_COUNT = 7


def block_scale(block_weights: Sequence[float], input_dim: int = INPUT_DIM) -> torch.Tensor:
    """Repeats one weight per block over that block's dimensions."""
    if input_dim % len(block_weights):
        raise ValueError(f"{len(block_weights)} block weights do not divide input_dim {input_dim}")
    weights = torch.tensor([float(w) for w in block_weights], dtype=torch.float32)
    return weights.repeat_interleave(input_dim // len(block_weights))


class BookEncoder(nn.Module):
    def __init__(
        self,
        input_dim: int = INPUT_DIM,
        layer_dims: tuple[int, ...] = LAYER_DIMS,
        dropout: float = 0.0,
        block_weights: Sequence[float] | None = None,
    ):
        super().__init__()
        scale = block_scale(block_weights, input_dim) if block_weights else torch.ones(input_dim)
        self.register_buffer("input_scale", scale)
        layers: list[nn.Module] = []
        previous = input_dim
        for i, width in enumerate(layer_dims):
            layers.append(nn.Linear(previous, width))
            if i < len(layer_dims) - 1:
                layers.append(nn.GELU())
                layers.append(nn.Dropout(dropout))  # always present, so state_dict keys do not depend on p
            previous = width
        self.net = nn.Sequential(*layers)
        self.skip = nn.Linear(input_dim, layer_dims[-1], bias=False)

    def weigh(self, x: torch.Tensor) -> torch.Tensor:
        """The block-weighted, unit-length input: also the teacher space used in training."""
        return nn.functional.normalize(x * self.input_scale, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.weigh(x)
        return nn.functional.normalize(self.net(h) + self.skip(h), dim=-1)

    @torch.inference_mode()
    def encode_numpy(self, vectors: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """(n, 2688) float32 -> (n, 256) float32 unit vectors."""
        self.eval()
        out = np.empty((len(vectors), OUTPUT_DIM), dtype=np.float32)
        for start in range(0, len(vectors), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(vectors[start : start + batch_size], dtype=np.float32))
            out[start : start + len(chunk)] = self(chunk).numpy()
        return out


def save_weights(model: BookEncoder, directory: Path) -> Path:
    from safetensors.torch import save_file

    path = directory / WEIGHTS_FILE
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def load_weights(path: Path) -> BookEncoder:
    from safetensors.torch import load_file

    state = load_file(str(path))
    model = BookEncoder()
    model.load_state_dict(state)
    model.eval()
    return model
