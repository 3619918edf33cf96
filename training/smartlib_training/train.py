"""Contrastive training of the 2688 -> 256 encoder with self-distillation from the raw space.

Why this loss (see the ablation in the README): genre-only SupCon collapses books into genre
clusters and loses what readers actually pair (same author, same series, similar tone). So the
objective has three parts, all over in-batch negatives:

* contrast: soft InfoNCE whose target distribution is graded by relation strength
  (same series > same author, mixed with strong genre overlap weighted by shelf order);
* distill: KL from the raw block-weighted 2688-d in-batch similarity distribution to the
  learned one, which keeps the raw neighbourhood structure;
* query: pseudo "<genre>" queries laid out like serving-time text queries must land on books
  that carry that genre, so SearchByText works in the learned space too.

Each batch is built from anchors plus one sampled positive per anchor, since random batches of
~8k books almost never contain a same-series or same-author pair.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from smartlib_core.domain import Book
from smartlib_core.embedding import BLOCK_DIM, BLOCKS, place_query
from smartlib_core.encoder_model import INPUT_DIM, BookEncoder
from smartlib_core.top_n import top_n
from smartlib_training import ranking
from smartlib_training.relations import author_disjoint_split, author_key, genre_profile, group_members, series_key

log = logging.getLogger(__name__)

_MAIN_GENRE_BLOCK = BLOCKS.index("main_genre")


@dataclasses.dataclass(frozen=True)
class TrainParams:
    epochs: int = 6
    batch_size: int = 256  # anchors per step; each brings one sampled positive
    lr: float = 1e-3
    skip_lr_scale: float = 0.1
    weight_decay: float = 1e-4
    dropout: float = 0.1
    temperature: float = 0.05
    teacher_temperature: float = 0.05
    contrast_weight: float = 1.0
    distill_weight: float = 1.0
    query_weight: float = 0.3
    # title, author, description, main genre, all genres, characters, title+author+genre
    block_weights: tuple[float, ...] = (1.4, 1.2, 1.0, 0.8, 1.5, 0.3, 1.0)
    series_positive: float = 1.0  # relative strength of the two identity relations
    author_positive: float = 0.5
    identity_share: float = 0.8  # target mass on same-series/author mates when a row has both kinds
    genre_threshold: float = 0.7  # profile cosine that counts as "strong overlap" on its own
    main_genre_threshold: float = 0.4  # lower bar when the main genre is shared
    genre_neighbours: int = 10
    raw_neighbours: int = 10  # nearest books in the weighted raw space, sampled as batch partners
    block_dropout: float = 0.15
    test_fraction: float = 0.2
    seed: int = 13
    shortcut: bool = True  # False: a plain MLP (the shortcut is zeroed and frozen), for ablation
    threads: int = 2  # torch intra-op threads; the target machine has 2 cores
    bf16: bool = True  # autocast the MLP; similarities and losses stay in fp32
    ranking_weight: float = ranking.DEFAULT_WEIGHT
    ranking_oversample: int = ranking.DEFAULT_OVERSAMPLE
    reader_ranker: bool = True  # False stores none: SimilarBooks then ranks by cosine + prior alone

    def __post_init__(self):
        problems = []
        if self.epochs < 1:
            problems.append("epochs must be at least 1")
        if self.batch_size < 2:
            problems.append("batch_size must be at least 2")
        if not 0.0 < self.test_fraction < 1.0:
            problems.append("test_fraction must be between 0 and 1")
        if len(self.block_weights) != len(BLOCKS) or min(self.block_weights) < 0:
            problems.append(f"block_weights needs {len(BLOCKS)} non-negative values")
        if self.temperature <= 0 or self.teacher_temperature <= 0:
            problems.append("temperatures must be positive")
        if not 0.0 <= self.identity_share <= 1.0 or not 0.0 <= self.block_dropout < 1.0:
            problems.append("identity_share must be in [0, 1] and block_dropout in [0, 1)")
        if self.ranking_weight < 0 or self.ranking_oversample < 1:
            problems.append("ranking_weight must be >= 0 and ranking_oversample >= 1")
        if problems:
            raise ValueError("invalid training parameters: " + "; ".join(problems))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainParams":
        known = {f.name for f in dataclasses.fields(cls)}
        clean = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in known}
        return cls(**clean)


@dataclasses.dataclass
class TrainResult:
    model: BookEncoder
    epoch_losses: list[float]  # total loss per epoch
    epoch_parts: list[dict[str, float]]  # contrast / distill / query per epoch
    train_idx: np.ndarray
    test_idx: np.ndarray
    seconds: float  # wall clock; on a shared machine compare cpu_seconds too
    cpu_seconds: float


class _BatchData:
    """Per-book integer labels and genre profiles of the training books, for in-batch targets."""

    def __init__(self, books: Sequence[Book], weighted: np.ndarray, params: TrainParams):
        self.params = params
        self.series = _key_ids([series_key(b) for b in books])
        self.author = _key_ids([author_key(b) for b in books])
        self.main = _key_ids([b.main_genre for b in books])
        profile, self.vocabulary = genre_profile(books)
        self.profile = torch.from_numpy(profile)
        self.series_mates = group_members([series_key(b) for b in books])
        self.author_mates = group_members([author_key(b) for b in books])
        self.genre_mates = _genre_neighbours(profile, self.main, params)
        self.raw_mates = _raw_neighbours(weighted, params.raw_neighbours)

    def targets(self, rows: np.ndarray) -> torch.Tensor:
        """(b, b) contrast target distribution over the other books of one batch (rows may be all 0).

        Identity relations (same series, same author) and genre overlap are normalised
        separately and then mixed: a batch row holds one same-author mate but dozens of genre
        mates, and without the split the genre mates would take nearly all the target mass.
        """
        p = self.params
        r = torch.from_numpy(rows)
        series, author, main = (torch.from_numpy(a[rows]) for a in (self.series, self.author, self.main))
        same_series = (series[:, None] == series[None, :]) & (series[:, None] >= 0)
        same_author = (author[:, None] == author[None, :]) & (author[:, None] >= 0)
        same_main = (main[:, None] == main[None, :]) & (main[:, None] >= 0)
        g = self.profile[r] @ self.profile[r].T
        strong = (g >= p.genre_threshold) | (same_main & (g >= p.main_genre_threshold))
        genre = torch.where(strong, g, torch.zeros_like(g))
        identity = torch.maximum(same_author.float() * p.author_positive, same_series.float() * p.series_positive)
        genre.fill_diagonal_(0.0)
        identity.fill_diagonal_(0.0)
        genre_mass = genre.sum(dim=1, keepdim=True)
        identity_mass = identity.sum(dim=1, keepdim=True)
        has_genre, has_identity = genre_mass > 0, identity_mass > 0
        share = torch.where(has_genre & has_identity, torch.full_like(genre_mass, p.identity_share),
                            has_identity.float())
        return (share * identity / identity_mass.clamp_min(1e-12)
                + (1 - share) * has_genre.float() * genre / genre_mass.clamp_min(1e-12))

    def partners(self, anchors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One partner per anchor: a random relation kind among those the anchor has.

        Raw-space neighbours are partners too (not targets of the contrast term): they put the
        fine structure that the distillation term should keep into the same batch.
        """
        out = np.empty_like(anchors)
        for n, i in enumerate(anchors):
            kinds = (self.series_mates[i], self.author_mates[i], self.genre_mates[i], self.raw_mates[i])
            pools = [m for m in kinds if len(m)]
            if pools:
                pool = pools[rng.integers(len(pools))]
                out[n] = pool[rng.integers(len(pool))]
            else:
                out[n] = rng.integers(len(self.series))
        return out


def _key_ids(keys: Sequence[str]) -> np.ndarray:
    lookup: dict[str, int] = {}
    return np.array([lookup.setdefault(k, len(lookup)) if k else -1 for k in keys], dtype=np.int64)


def _genre_neighbours(profile: np.ndarray, main: np.ndarray, params: TrainParams) -> list[np.ndarray]:
    """Top genre-profile neighbours that pass the positive bar, computed in row chunks."""
    out: list[np.ndarray] = []
    k = params.genre_neighbours
    for start in range(0, len(profile), 1024):
        sims = profile[start : start + 1024] @ profile.T
        rows = np.arange(start, min(start + 1024, len(profile)))
        sims[np.arange(len(rows)), rows] = -1.0
        top = top_n(sims, k, ordered=False)
        for n, i in enumerate(rows):
            cand = top[n]
            s = sims[n, cand]
            same_main = (main[cand] == main[i]) & (main[i] >= 0)
            ok = (s >= params.genre_threshold) | (same_main & (s >= params.main_genre_threshold))
            out.append(cand[ok])
    return out


@torch.no_grad()
def _init_as_projection(model: BookEncoder, weighted: np.ndarray) -> None:
    """Shortcut := top principal directions of the weighted inputs; MLP output layer := 0.

    The model then starts as the linear projection that best keeps the raw space's geometry.
    """
    out_dim = model.skip.weight.shape[0]
    _, _, vt = np.linalg.svd(weighted, full_matrices=False)
    components = np.zeros((out_dim, weighted.shape[1]), dtype=np.float32)
    take = min(out_dim, len(vt))
    components[:take] = vt[:take]
    model.skip.weight.copy_(torch.from_numpy(components))
    last = model.net[-1]
    last.weight.zero_()
    last.bias.zero_()


def _raw_neighbours(weighted: np.ndarray, k: int) -> list[np.ndarray]:
    """The k nearest books of each book by block-weighted raw cosine (rows are unit length)."""
    if k <= 0:
        return [np.zeros(0, dtype=np.int64)] * len(weighted)
    k = min(k, len(weighted) - 1)
    out: list[np.ndarray] = []
    for start in range(0, len(weighted), 1024):
        sims = weighted[start : start + 1024] @ weighted.T
        rows = np.arange(start, min(start + 1024, len(weighted)))
        out.extend(top_n(sims, k, exclude=rows, ordered=False))
    return out


def _genre_queries(vectors: np.ndarray, books: Sequence[Book], vocabulary: dict[str, int]) -> tuple[torch.Tensor, np.ndarray]:
    """Pseudo text queries "<genre>": a genre name's MiniLM vector in the serving query layout.

    The main-genre block of a book is exactly the embedding of its genre name, so the catalog
    already holds these vectors and no text model is needed at training time.
    """
    seen: dict[str, np.ndarray] = {}
    block = slice(_MAIN_GENRE_BLOCK * BLOCK_DIM, (_MAIN_GENRE_BLOCK + 1) * BLOCK_DIM)
    for row, book in enumerate(books):
        if book.main_genre and book.main_genre not in seen and book.main_genre in vocabulary:
            seen[book.main_genre] = vectors[row, block]
    names = sorted(seen)
    encoded = np.stack([seen[n] for n in names]) if names else np.zeros((0, BLOCK_DIM), dtype=np.float32)
    queries = place_query(encoded)  # the same layout and weights as served text queries
    columns = np.array([vocabulary[n] for n in names], dtype=np.int64)
    return torch.from_numpy(queries), columns


def _soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over rows with any positive of -sum(target * log_softmax(logits))."""
    mass = target.sum(dim=1)
    rows = mass > 0
    if not rows.any():
        return logits.new_zeros(())
    p = target[rows] / mass[rows, None]
    return -(p * torch.log_softmax(logits[rows], dim=1)).sum(dim=1).mean()


def train_encoder(books: Sequence[Book], vectors: np.ndarray, params: TrainParams, progress: bool = True,
                  train_idx: np.ndarray | None = None) -> TrainResult:
    """Trains on the author-disjoint training split (or on `train_idx` when given, e.g. all books).

    Args:
        books: catalog books, row-aligned with `vectors`.
        vectors: (n, 2688) float32 stored book vectors.
        params: hyper-parameters; `seed` fixes the split, the sampling and the initial weights.
        progress: show a tqdm bar and log the loss per epoch.

    Returns:
        TrainResult with the model in eval mode, per-epoch losses and the split used.
    """
    # torch's thread count is process-wide: left at params.threads it slowed whatever ran next in
    # the process (the test session's 10k ingest ran on one core after a threads=1 training).
    before = torch.get_num_threads()
    torch.set_num_threads(params.threads)
    try:
        return _train(books, vectors, params, progress, train_idx)
    finally:
        torch.set_num_threads(before)


def _train(books: Sequence[Book], vectors: np.ndarray, params: TrainParams, progress: bool,
           train_idx: np.ndarray | None) -> TrainResult:
    if len(books) != len(vectors) or vectors.shape[1:] != (INPUT_DIM,):
        raise ValueError(f"need one {INPUT_DIM}-d vector per book, got {vectors.shape} for {len(books)} books")
    torch.manual_seed(params.seed)
    rng = np.random.default_rng(params.seed)
    split_train, test_idx = author_disjoint_split(books, params.test_fraction, params.seed)
    if train_idx is None:
        train_idx = split_train
    if len(train_idx) < 4:
        raise ValueError(f"too few training books ({len(train_idx)}) to form contrastive batches")
    started, cpu_started = time.perf_counter(), time.process_time()
    train_books = [books[i] for i in train_idx]
    x = torch.from_numpy(np.ascontiguousarray(vectors[train_idx], dtype=np.float32))
    model = BookEncoder(dropout=params.dropout, block_weights=params.block_weights)
    with torch.no_grad():
        weighted = model.weigh(x).numpy()
    data = _BatchData(train_books, weighted, params)
    if params.shortcut:
        _init_as_projection(model, weighted)
    else:
        with torch.no_grad():
            model.skip.weight.zero_()
        model.skip.weight.requires_grad_(False)
    queries, query_columns = _genre_queries(vectors[train_idx], train_books, data.vocabulary)
    # The shortcut starts at the PCA projection, whose entries are ~0.02: full-size Adam steps
    # would scramble it within a few updates, so it moves slower and is not decayed.
    mlp_params = [p for name, p in model.named_parameters() if not name.startswith("skip.")]
    skip_params = [p for p in model.skip.parameters() if p.requires_grad]
    opt = torch.optim.AdamW([
        {"params": mlp_params, "lr": params.lr, "weight_decay": params.weight_decay},
        {"params": skip_params, "lr": params.lr * params.skip_lr_scale, "weight_decay": 0.0},
    ])
    anchors_per_step = max(2, min(params.batch_size, len(train_idx)))
    steps_per_epoch = max(1, len(train_idx) // anchors_per_step)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=[params.lr, params.lr * params.skip_lr_scale], total_steps=params.epochs * steps_per_epoch, pct_start=0.1
    )
    block_count = len(BLOCKS)
    epoch_losses: list[float] = []
    epoch_parts: list[dict[str, float]] = []
    bar = tqdm(total=params.epochs * steps_per_epoch, disable=not progress, desc="train", unit="step")
    for epoch in range(params.epochs):
        model.train()
        order = rng.permutation(len(train_idx))
        sums = {"contrast": 0.0, "distill": 0.0, "query": 0.0, "total": 0.0}
        for step in range(steps_per_epoch):
            anchors = order[step * anchors_per_step : (step + 1) * anchors_per_step]
            rows = np.unique(np.concatenate([anchors, data.partners(anchors, rng)]))
            xb = x[rows]
            keep = torch.from_numpy(rng.random((len(rows), block_count)) >= params.block_dropout)
            student_in = xb * keep.float().repeat_interleave(BLOCK_DIM, dim=1)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=params.bf16):
                z = model(student_in)
            z = z.float()
            sim = z @ z.T / params.temperature
            eye = torch.eye(len(rows), dtype=torch.bool)
            sim = sim.masked_fill(eye, -1e9)
            contrast = _soft_cross_entropy(sim, data.targets(rows))
            with torch.no_grad():
                w = model.weigh(xb)
                teacher = torch.softmax((w @ w.T / params.teacher_temperature).masked_fill(eye, -1e9), dim=1)
            distill = nn.functional.kl_div(torch.log_softmax(sim, dim=1), teacher, reduction="batchmean")
            query = sim.new_zeros(())
            if params.query_weight and len(query_columns):
                present = (data.profile[torch.from_numpy(rows)][:, query_columns] > 0).any(dim=0).numpy()
                pick = np.flatnonzero(present)
                if len(pick):
                    pick = rng.choice(pick, size=min(32, len(pick)), replace=False)
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=params.bf16):
                        qz = model(queries[pick]).float()
                    target = data.profile[torch.from_numpy(rows)][:, query_columns[pick]].T
                    query = _soft_cross_entropy(qz @ z.T / params.temperature, target)
            loss = params.contrast_weight * contrast + params.distill_weight * distill + params.query_weight * query
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            for name, value in (("contrast", contrast), ("distill", distill), ("query", query), ("total", loss)):
                sums[name] += float(value.detach())
            bar.update(1)
            bar.set_postfix(epoch=epoch + 1, loss=f"{float(loss.detach()):.3f}")
        parts = {k: v / steps_per_epoch for k, v in sums.items()}
        epoch_losses.append(parts.pop("total"))
        epoch_parts.append(parts)
        message = (f"epoch {epoch + 1}/{params.epochs} loss {epoch_losses[-1]:.4f} "
                   + " ".join(f"{k} {v:.4f}" for k, v in parts.items()))
        if progress:
            bar.write(message)
        log.info(message)
    bar.close()
    model.eval()
    return TrainResult(model, epoch_losses, epoch_parts, np.asarray(train_idx), test_idx,
                       time.perf_counter() - started, time.process_time() - cpu_started)
