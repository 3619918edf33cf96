"""A FINETUNED encoder's weights as numpy arrays, read without importing torch.

Serving through OpenVINO or ONNX Runtime needs only the weights' hash (the compiled cache's key)
and, when that cache is cold, a torch module to export. Importing torch cost about 1.0 s of CPU
of every 10k restart (README, "Where a 10k restart's time goes") just to read these arrays, so
the server reads them with safetensors' numpy API and builds the torch module (encoder_model,
the reference and the fallback) only when something asks for it.
"""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import numpy as np

from smartlib_core.encoder_layout import expected_shapes


def state_digest(state: dict[str, np.ndarray]) -> str:
    """sha256 over a state's names, dtypes, shapes and bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        array = np.ascontiguousarray(state[name])
        digest.update(f"{name}\0{array.dtype}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


class EncoderWeights:
    """The arrays of one BookEncoder; `module()` is the torch model made from them, on demand.

    `encode_numpy` runs that module (torch, the reference), so this object serves wherever a
    BookEncoder did; the runtime path (smartlib_core.runtime) asks only for `digest` on a warm cache.
    """

    def __init__(self, state: dict[str, np.ndarray]) -> None:
        self.state = state
        self._digest: str | None = None
        self._module = None
        self._lock = threading.Lock()

    @property
    def digest(self) -> str:
        if self._digest is None:
            self._digest = state_digest(self.state)
        return self._digest

    def module(self):
        """The torch BookEncoder holding these weights, in eval mode (imports torch once)."""
        with self._lock:
            if self._module is None:
                import torch

                from smartlib_core.encoder_model import BookEncoder

                model = BookEncoder()
                model.load_state_dict({name: torch.from_numpy(array) for name, array in self.state.items()})
                self._module = model.eval()
            return self._module

    def encode_numpy(self, vectors: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        return self.module().encode_numpy(vectors, batch_size)


def read_weights(path: Path) -> EncoderWeights:
    """The weights in a safetensors file, checked against the encoder's architecture.

    Raises:
        ValueError: a name is missing or extra, or a shape does not fit (as torch's
            load_state_dict would refuse them).
        OSError: the file cannot be read.
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        state = load_file(str(path))
    except SafetensorError as exc:  # a torn or foreign header
        raise ValueError(str(exc)) from None
    expected = expected_shapes()
    if set(state) != set(expected):
        missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
        raise ValueError(f"weights do not fit the encoder: missing {missing}, unexpected {extra}")
    for name, shape in expected.items():
        if state[name].shape != shape:
            raise ValueError(f"size mismatch for {name}: the file holds {state[name].shape}, the encoder needs {shape}")
    # float32, as the torch module holds them whatever the file stored: the digest matches its state_dict's
    return EncoderWeights({name: np.ascontiguousarray(array, dtype=np.float32) for name, array in state.items()})
