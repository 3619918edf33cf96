"""The FINETUNED encoder's shape: its widths, its weights file and the state it must hold.

Apart from both the torch module (encoder_model) and the numpy weights (encoder_weights) so
that each can name it without importing the other.
"""
from __future__ import annotations

INPUT_DIM = 2688
LAYER_DIMS = (1536, 1024, 512, 256)
OUTPUT_DIM = LAYER_DIMS[-1]
WEIGHTS_FILE = "encoder.safetensors"


def expected_shapes(input_dim: int = INPUT_DIM, layer_dims: tuple[int, ...] = LAYER_DIMS) -> dict[str, tuple[int, ...]]:
    """BookEncoder's state: every name and shape load_state_dict would demand."""
    shapes: dict[str, tuple[int, ...]] = {"input_scale": (input_dim,), "skip.weight": (layer_dims[-1], input_dim)}
    previous = input_dim
    for i, width in enumerate(layer_dims):  # each hidden Linear is followed by GELU and Dropout
        shapes[f"net.{3 * i}.weight"], shapes[f"net.{3 * i}.bias"] = (width, previous), (width,)
        previous = width
    return shapes
