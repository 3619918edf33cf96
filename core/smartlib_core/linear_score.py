"""A linear score over named, standardised features, stored as plain lists: the reader ranker's
and the personal fusion's shape (smartlib_core.reader_ranking, smartlib_core.personal_fusion)."""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import numpy as np


@dataclasses.dataclass(frozen=True)
class LinearScore:
    """w . (x - mean) / scale over the subclass's FEATURES; NAME words its errors."""

    FEATURES: ClassVar[tuple[str, ...]] = ()
    NAME: ClassVar[str] = "linear score"

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    provenance: str = ""  # where the weights came from, for the manifest and the README

    def __post_init__(self):
        n = len(self.FEATURES)
        if not (len(self.mean) == len(self.scale) == len(self.weights) == n):
            raise ValueError(f"a {self.NAME} needs {n} means, scales and weights")
        if min(self.scale) <= 0 or not all(math.isfinite(v) for v in (*self.mean, *self.weights)):
            raise ValueError(f"{self.NAME} scales must be positive and every value finite")

    def score(self, features: np.ndarray) -> np.ndarray:
        x = (np.asarray(features, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        return x @ np.asarray(self.weights)

    def to_dict(self) -> dict:
        return {"features": list(self.FEATURES), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "provenance": self.provenance}

    @classmethod
    def from_dict(cls, values: dict):
        if list(values.get("features", [])) != list(cls.FEATURES):
            raise ValueError(f"the stored {cls.NAME} was trained on other features")
        return cls(tuple(values["mean"]), tuple(values["scale"]), tuple(values["weights"]), values.get("provenance", ""))
