"""BERT in plain torch, for all-MiniLM-L6-v2: the packaged safetensors weights, no
sentence-transformers or transformers (minilm.py says why).

It runs the same torch operations in the same order as transformers' BertModel with its
default "sdpa" attention followed by sentence-transformers' mean pooling, so fp32, bf16
autocast and bf16 weights all give those libraries' vectors bit for bit
(tests/unit/test_minilm.py holds it to them).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch.nn import functional as F


class MeanPooledBert:
    """BERT encoder plus mean pooling: (input_ids, attention_mask) -> (n, hidden), not normalised.

    Plain functions over the checkpoint's tensors rather than nn.Modules: building modules
    computes a random initialisation only to overwrite it, and building them on the meta device
    instead imports torch's compiler stack. F.linear, F.layer_norm and F.embedding are what
    nn.Linear, nn.LayerNorm and nn.Embedding call, so autocast treats them alike.
    """

    def __init__(self, config: dict, weights: dict[str, torch.Tensor]) -> None:
        self.config = config
        self.weights = weights
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.layers = [f"encoder.layer.{i}." for i in range(int(config["num_hidden_layers"]))]

    def to(self, dtype: torch.dtype) -> "MeanPooledBert":
        """A copy with every weight cast to `dtype` (bf16 weights for the query path)."""
        return MeanPooledBert(self.config, {k: v.to(dtype) for k, v in self.weights.items()})

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.weights[name + ".weight"], self.weights[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.layer_norm(x, (self.hidden,), self.weights[name + ".weight"], self.weights[name + ".bias"], self.eps)

    def _layer(self, x: torch.Tensor, allowed: torch.Tensor, p: str) -> torch.Tensor:
        """One post-norm encoder layer: self-attention, then the GELU feed-forward."""
        n, t, hidden = x.shape
        head_dim = hidden // self.heads
        q, k, v = (self._linear(x, f"{p}attention.self.{name}").view(n, t, self.heads, head_dim).transpose(1, 2)
                   for name in ("query", "key", "value"))
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=head_dim**-0.5)
        context = context.transpose(1, 2).reshape(n, t, hidden)
        x = self._norm(self._linear(context, f"{p}attention.output.dense") + x, f"{p}attention.output.LayerNorm")
        inner = F.gelu(self._linear(x, f"{p}intermediate.dense"))
        return self._norm(self._linear(inner, f"{p}output.dense") + x, f"{p}output.LayerNorm")

    def rows(self, input_ids: torch.Tensor, position_ids: torch.Tensor, allowed: torch.Tensor,
             pool: torch.Tensor) -> torch.Tensor:
        """Several texts to a row (the exported graph, runtime_export.py): (rows, t) tokens with
        each text's own positions, `allowed` (rows, 1, t, t) says which keys each token sees (its
        own text's), `pool` (n, rows * t) is 1 where text i's tokens sit -> (n, hidden) means.

        The same arithmetic as `__call__` for each text, so short queries packed into one row pay
        for their own tokens only, not for padding to the longest of the batch.
        """
        w = self.weights
        x = F.embedding(input_ids, w["embeddings.word_embeddings.weight"]) + w["embeddings.token_type_embeddings.weight"][0]
        x = self._norm(x + F.embedding(position_ids, w["embeddings.position_embeddings.weight"]), "embeddings.LayerNorm")
        for prefix in self.layers:
            x = self._layer(x, allowed, prefix)
        pooled = pool.to(x.dtype) @ x.reshape(-1, self.hidden)
        return pooled / pool.sum(dim=1, keepdim=True).to(x.dtype).clamp(min=1e-9)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        n, t = input_ids.shape
        w = self.weights
        # Every token is segment 0 and position i: adding row 0 and rows 0..t-1 is the lookup.
        x = F.embedding(input_ids, w["embeddings.word_embeddings.weight"]) + w["embeddings.token_type_embeddings.weight"][0]
        x = self._norm(x + w["embeddings.position_embeddings.weight"][:t], "embeddings.LayerNorm")
        allowed = attention_mask.bool()[:, None, None, :].expand(n, 1, t, t)  # key j is a real token
        for prefix in self.layers:
            x = self._layer(x, allowed, prefix)
        # Mean over real tokens, summed in float32 when the hidden states are half precision.
        total = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        mask = attention_mask.unsqueeze(-1).to(x.dtype)
        summed = (x * mask).sum(dim=1, dtype=total)
        return (summed / mask.sum(dim=1, dtype=total).clamp(min=1e-9)).to(x.dtype)


def load_model(directory: str | Path) -> MeanPooledBert:
    """The model with the checkpoint's fp32 weights, memory-mapped by safetensors; the tensors it
    does not use (the pooler head, the position-id buffer) are left out."""
    from safetensors import safe_open

    directory = Path(directory)
    config = json.loads((directory / "config.json").read_text())
    if config.get("model_type") != "bert" or config.get("position_embedding_type", "absolute") != "absolute" \
            or config.get("hidden_act") != "gelu":
        raise ValueError(f"{directory} is not a BERT with absolute positions and erf GELU")
    names = [f"embeddings.{e}.weight" for e in ("word_embeddings", "position_embeddings", "token_type_embeddings")]
    names += ["embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias"]
    names += [f"encoder.layer.{i}.{part}.{kind}" for i in range(int(config["num_hidden_layers"]))
              for part in _LAYER_PARTS for kind in ("weight", "bias")]
    with safe_open(str(directory / "model.safetensors"), framework="pt") as handle:
        missing = sorted(set(names) - set(handle.keys()))
        if missing:
            raise ValueError(f"{directory}/model.safetensors lacks {len(missing)} tensors, such as {missing[0]}")
        weights = {name: handle.get_tensor(name) for name in names}
    return MeanPooledBert(config, weights)


_LAYER_PARTS = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm")
