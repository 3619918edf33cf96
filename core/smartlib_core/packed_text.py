"""Lists of texts as one flat uint8 array, so derived files store them without pickling
(np.savez with allow_pickle=False takes no object arrays)."""
from __future__ import annotations

import numpy as np


def joined(texts: list[str]) -> np.ndarray:
    """UTF-8 bytes of `texts`, each ended by a NUL (so an empty text still counts)."""
    return np.frombuffer("".join(f"{text}\0" for text in texts).encode(), dtype=np.uint8)


def split(data: np.ndarray) -> list[str]:
    """The texts `joined` packed; ValueError when the bytes were not packed that way."""
    texts = bytes(data).decode().split("\0")
    if texts[-1]:
        raise ValueError("stored texts do not end with a NUL")
    return texts[:-1]
