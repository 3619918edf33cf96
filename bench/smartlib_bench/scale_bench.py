"""Index kinds at catalog scale: memory, build time, single-query latency and recall@10 vs flat.

    python -m smartlib_bench.scale_bench --sizes 100000,1000000 [--home HOME] [--out bench]

writes var/bench/scale.json and prints a Markdown table. Catalogs are synthetic: with --home, each
book is a real catalog vector plus Gaussian noise ("perturbed real"); without it, points
scattered around random centres ("synthetic clustered"). Queries are drawn the same way and are
never in the index. Uniform random vectors are measured too, at the smallest size and for the
serving IVF only, to show how much harder (and less realistic) they are for an IVF index.

Builds run on 2 OpenMP threads; timed searches on 1 thread, one query at a time, like serving.
docs/scale.md records a run and explains the numbers.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import time
import tracemalloc
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from smartlib_bench import machine
from smartlib_bench.scale_report import markdown
from smartlib_core.embedding import normalise
from smartlib_core.top_n import top_n
from smartlib_server.adapters.catalog_store import sqlite_store
from smartlib_server.services.recommend.vector_index import (
    IVF_KMEANS_ITERATIONS,
    IVF_NPROBE,
    IVF_TRAIN_PER_LIST,
    VectorIndex,
    choose_index_kind,
    ivf_nlist,
)

K = 10
TARGET_SIZE, TARGET_BYTES, TARGET_RECALL = 1_000_000, 10**9, 0.95  # the "1 GB" read as 10^9 bytes
PARENT_COSINE = 0.85  # noise is scaled so a synthetic vector's cosine to its parent is about this
CENTRES = 4096  # clusters of the generator used without real vectors
HNSW_M, HNSW_EF_SEARCH = 32, (64, 128)
IVF_NPROBES = (8, 16, 32, 64, 128)
PQ_TRAIN_MAX = 65_536
BUILD_THREADS, SEARCH_THREADS = 2, 1
FLAT_CURVE = (10_000, 20_000, 32_768, 50_000)  # flat latency around the auto threshold


def run(
    sizes: list[int], dim: int = 256, queries: int = 1000, real_vectors: np.ndarray | None = None, seed: int = 0,
    progress: bool = True, latency_queries: int = 200, real_source: str = "real catalog vectors",
) -> dict:
    """Measures every index config at every size; see the module docstring and docs/scale.md."""
    if real_vectors is not None and real_vectors.shape[1] != dim:
        raise ValueError(f"real vectors are {real_vectors.shape[1]}-d, not {dim}-d")
    rng = np.random.default_rng(seed)
    sigma = float(np.sqrt((1 / PARENT_COSINE**2 - 1) / dim))  # |noise|^2 ~ dim * sigma^2 around a unit parent
    if real_vectors is not None:
        parents = normalise(np.asarray(real_vectors, dtype=np.float32))
        data = {"kind": "perturbed real", "source": real_source, "parents": len(parents)}
    else:
        parents = normalise(rng.standard_normal((CENTRES, dim), dtype=np.float32))
        data = {"kind": "synthetic clustered", "source": f"{CENTRES} random unit centres", "parents": CENTRES}
    data["noise_scale"] = sigma
    data["target_cosine_to_parent"] = PARENT_COSINE
    query_vectors, _ = _perturbed(parents, queries, sigma, rng)
    out: dict = {
        "machine": machine.describe(), "faiss": faiss.__version__, "dim": dim, "queries": queries,
        "latency_queries": min(latency_queries, queries), "k": K, "data": data, "sizes": {},
        "threads": {"build": BUILD_THREADS, "search": SEARCH_THREADS},
    }
    cosines = []
    for n in sizes:
        started = time.perf_counter()
        base, cos = _perturbed(parents, n, sigma, rng, progress)
        cosines.append(cos)
        truth = ground_truth(base, query_vectors, progress)
        configs = _measure_size(base, query_vectors, truth, latency_queries, seed, progress)
        kind = choose_index_kind(n, dim, "auto")
        served = "flat" if kind == "flat" else "server ivf"
        out["sizes"][str(n)] = {
            "configs": configs,
            "auto": {"kind": kind, "config": served, **_target(configs[served])},
            "seconds": time.perf_counter() - started,
        }
        del base, truth
    data["mean_cosine_to_parent"] = float(np.mean(cosines)) if cosines else None
    smallest = min(sizes)
    uniform = normalise(rng.standard_normal((smallest, dim), dtype=np.float32))
    uniform_queries = normalise(rng.standard_normal((queries, dim), dtype=np.float32))
    out["uniform_random"] = {
        "size": smallest,
        "configs": _measure_ivf_server(uniform, uniform_queries, ground_truth(uniform, uniform_queries, progress),
                                       latency_queries, progress),
    }
    curve_sizes = [n for n in FLAT_CURVE if n <= max(sizes)] or [min(sizes)]
    out["flat_curve"] = flat_curve(dim, curve_sizes, min(latency_queries, queries), seed, progress)
    out["target"] = _overall_target(out)
    return out


def flat_curve(dim: int, sizes: list[int], latency_queries: int = 200, seed: int = 0, progress: bool = False) -> dict:
    """Single-query flat latency at smaller sizes, where "auto" switches from flat to ivf.

    A flat scan costs the same whatever the vectors hold, so random ones do here.
    """
    rng = np.random.default_rng(seed)
    curve = {}
    for n in sizes:
        flat = faiss.IndexFlatIP(dim)
        flat.add(normalise(rng.standard_normal((n, dim), dtype=np.float32)))
        faiss.omp_set_num_threads(SEARCH_THREADS)
        queries = normalise(rng.standard_normal((latency_queries, dim), dtype=np.float32))
        times = _latencies(flat, queries, progress)
        faiss.omp_set_num_threads(BUILD_THREADS)
        curve[str(n)] = {"mib": n * dim * 4 / 2**20, **_percentiles(times),
                         "auto": choose_index_kind(n, dim, "auto")}
    return curve


def ground_truth(base: np.ndarray, queries: np.ndarray, progress: bool = False, batch: int = 100) -> np.ndarray:
    """Exact top-K labels per query: BLAS inner products in batches, best first."""
    rows = []
    for start in tqdm(range(0, len(queries), batch), desc="ground truth", disable=not progress, leave=False):
        scores = queries[start : start + batch] @ base.T
        rows.append(top_n(scores, K))
    return np.concatenate(rows)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def _perturbed(parents: np.ndarray, n: int, sigma: float, rng, progress: bool = False) -> tuple[np.ndarray, float]:
    """`n` unit vectors, each a random parent plus N(0, sigma^2) noise; and their mean cosine to the parent."""
    out = np.empty((n, parents.shape[1]), dtype=np.float32)
    cos_sum = 0.0
    chunk = 65_536
    for start in tqdm(range(0, n, chunk), desc=f"generate {n:,}", disable=not progress, leave=False):
        stop = min(n, start + chunk)
        picked = parents[rng.integers(0, len(parents), stop - start)]
        x = picked + rng.standard_normal(picked.shape, dtype=np.float32) * sigma
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        cos_sum += float(np.einsum("ij,ij->", x, picked))
        out[start:stop] = x
    return out, cos_sum / n


def _measure_size(base, queries, truth, latency_queries, seed, progress) -> dict:
    n, dim = base.shape
    configs: dict = {}
    bar = tqdm(total=5, desc=f"{n:,} books", disable=not progress)

    faiss.omp_set_num_threads(BUILD_THREADS)
    started = time.perf_counter()
    flat = faiss.IndexFlatIP(dim)
    flat.add(base)
    configs["flat"] = _entry(flat, time.perf_counter() - started, queries, truth, latency_queries,
                             {"factory": "Flat"}, progress)
    del flat
    bar.update()

    faiss.omp_set_num_threads(BUILD_THREADS)
    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    chunk = 50_000
    for start in tqdm(range(0, n, chunk), desc="HNSW add", disable=not progress, leave=False):
        hnsw.add(base[start : start + chunk])
    build = time.perf_counter() - started
    for ef in HNSW_EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        configs[f"HNSW{HNSW_M} efSearch={ef}"] = _entry(
            hnsw, build, queries, truth, latency_queries,
            {"factory": f"HNSW{HNSW_M},Flat", "efConstruction": hnsw.hnsw.efConstruction, "efSearch": ef}, progress)
    del hnsw
    bar.update()

    # One coarse quantizer (spherical k-means, as IndexIVF trains for inner product) serves every
    # IVF config below; each config's build_s includes the time it took.
    nlist = ivf_nlist(n)
    faiss.omp_set_num_threads(BUILD_THREADS)
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    sample = base[np.sort(rng.choice(n, min(n, IVF_TRAIN_PER_LIST * nlist), replace=False))]
    kmeans = faiss.Kmeans(dim, nlist, niter=IVF_KMEANS_ITERATIONS, spherical=True, seed=seed + 1)
    kmeans.train(sample)
    quantizer = faiss.IndexFlatIP(dim)
    quantizer.add(kmeans.centroids)
    coarse_s = time.perf_counter() - started
    common = {"nlist": nlist, "coarse_train_s": coarse_s, "train_vectors": len(sample)}

    m = next(m for m in (32, 16, 8, 4, 2, 1) if dim % m == 0)
    started = time.perf_counter()
    ivfpq = faiss.IndexIVFPQ(quantizer, dim, nlist, m, 8, faiss.METRIC_INNER_PRODUCT)
    ivfpq.train(sample[:PQ_TRAIN_MAX])
    ivfpq.add(base)
    pq_build = coarse_s + time.perf_counter() - started
    sweep = functools.partial(_nprobe_sweep, configs, nlist, queries, truth, latency_queries, progress)
    sweep(ivfpq, ivfpq, pq_build, {"factory": f"IVF{nlist},PQ{m}", **common})
    bar.update()

    # Refine: IVF-PQ proposes 4k candidates, fp16 copies of the vectors re-rank them.
    started = time.perf_counter()
    fp16 = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
    fp16.add(base)
    refine = faiss.IndexRefine(ivfpq, fp16)
    refine.k_factor = 4
    refine_build = pq_build + time.perf_counter() - started
    sweep(refine, ivfpq, refine_build, {"factory": f"IVF{nlist},PQ{m},Refine(SQfp16)", "k_factor": 4, **common})
    del refine, fp16, ivfpq
    bar.update()

    started = time.perf_counter()
    ivfsq = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit,
                                          faiss.METRIC_INNER_PRODUCT)
    ivfsq.train(sample)
    ivfsq.add(base)
    sq_build = coarse_s + time.perf_counter() - started
    sweep(ivfsq, ivfsq, sq_build, {"factory": f"IVF{nlist},SQ8", **common})
    del ivfsq, quantizer, sample
    configs.update(_measure_ivf_server(base, queries, truth, latency_queries, progress))
    bar.update()
    bar.close()
    return configs


def _measure_ivf_server(base, queries, truth, latency_queries, progress) -> dict:
    """The serving path itself: VectorIndex(kind="ivf") built like ServingIndex.load builds it.

    Latency includes the Python around FAISS (lock, id mapping); python_bytes is what the
    id dictionaries and id strings add (tracemalloc), which serialize_index cannot see.
    """
    n, dim = base.shape
    faiss.omp_set_num_threads(BUILD_THREADS)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    ids = [f"book-{i}" for i in range(n)]
    index = VectorIndex(dim, "ivf")
    index.upsert(ids, base)
    build = time.perf_counter() - started
    python_bytes = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    faiss.omp_set_num_threads(SEARCH_THREADS)
    times = _latencies(index, queries[:latency_queries], progress)
    faiss.omp_set_num_threads(BUILD_THREADS)
    found = np.array([[int(book[5:]) for book, _ in row] + [-1] * (K - len(row)) for row in index.search(queries, K)])
    entry = {
        "build_s": build, "bytes": index.nbytes, "bytes_per_book": index.nbytes / n,
        **_percentiles(times), "recall_at_10": recall_at_k(found, truth),
        "params": {"kind": index.kind, "factory": f"IVF{ivf_nlist(n)},SQ8" if index.kind == "ivf" else "Flat",
                   "nprobe": IVF_NPROBE, "nbytes_source": "VectorIndex.nbytes",
                   "python_bytes": python_bytes, "python_bytes_per_book": python_bytes / n},
    }
    return {"server ivf": entry}


def _nprobe_sweep(configs, nlist, queries, truth, latency_queries, progress, index, ivf, build_s, params) -> None:
    """Measures `index` at each nprobe of its IVF part `ivf`, one config row per value."""
    for nprobe in _nprobes(nlist):
        ivf.nprobe = nprobe
        configs[f"{params['factory']} nprobe={nprobe}"] = _entry(
            index, build_s, queries, truth, latency_queries, {**params, "nprobe": nprobe}, progress)


def _nprobes(nlist: int) -> list[int]:
    return sorted({min(p, nlist) for p in IVF_NPROBES} | {min(IVF_NPROBE, nlist)})


def _entry(index, build_s, queries, truth, latency_queries, params, progress) -> dict:
    """Serialised size, single-query latency on one thread, and recall@10 over all queries."""
    n = index.ntotal
    size = len(faiss.serialize_index(index))
    faiss.omp_set_num_threads(SEARCH_THREADS)
    times = _latencies(index, queries[:latency_queries], progress)
    faiss.omp_set_num_threads(BUILD_THREADS)
    _, found = index.search(queries, K)
    return {
        "build_s": build_s, "bytes": size, "bytes_per_book": size / n, **_percentiles(times),
        "recall_at_10": recall_at_k(found, truth), "params": params,
    }


def _latencies(index, queries, progress) -> np.ndarray:
    """Milliseconds of each single-query `index.search(q, K)`, for a FAISS index or a VectorIndex."""
    for q in queries[:5]:  # warm caches and lazily built tables
        index.search(q[None], K)
    times = []
    for q in tqdm(queries, desc="latency", disable=not progress, leave=False):
        q = q[None]
        start = time.perf_counter()
        index.search(q, K)
        times.append(time.perf_counter() - start)
    return np.asarray(times) * 1000


def _percentiles(times_ms: np.ndarray) -> dict:
    return {"p50_ms": float(np.percentile(times_ms, 50)), "p99_ms": float(np.percentile(times_ms, 99))}


def _target(entry: dict) -> dict:
    fits = entry["bytes"] <= TARGET_BYTES
    good = entry["recall_at_10"] >= TARGET_RECALL
    return {"fits_1gb": fits, "recall_ok": good, "meets_target": fits and good}


def _overall_target(out: dict) -> dict:
    at = out["sizes"].get(str(TARGET_SIZE))
    result = {"size": TARGET_SIZE, "max_bytes": TARGET_BYTES, "min_recall_at_10": TARGET_RECALL,
              "measured": at is not None}
    if at is not None:
        result["auto_config"] = at["auto"]["config"]
        result["auto_meets"] = at["auto"]["meets_target"]
        result["configs_meeting"] = [name for name, e in at["configs"].items() if _target(e)["meets_target"]]
    return result


def load_real_vectors(home: Path, dim: int) -> tuple[np.ndarray, str]:
    """Unit vectors of the catalog under `home` (through the catalog store, opened read-only),
    PCA-projected to `dim` when they are wider, and a sentence saying so."""
    path = Path(home) / "catalog.sqlite3"
    store = sqlite_store(path, read_only=True)
    try:
        embedders = store.embedders()
        _, vectors = store.load_vectors(embedders[0]) if embedders else ([], np.zeros((0, 0), dtype=np.float32))
    finally:
        store.close()
    if not len(vectors):
        raise SystemExit(f"{path} holds no vectors")
    embedder, width = embedders[0], vectors.shape[1]
    x = normalise(vectors)
    source = f"{len(x):,} {embedder} vectors ({width}-d) from {path}"
    if width != dim:
        if width < dim or len(x) < dim:
            raise SystemExit(f"cannot project {len(x)} {width}-d vectors to {dim}-d")
        pca = faiss.PCAMatrix(width, dim)
        pca.train(x)
        x = normalise(pca.apply(x))
        source += f", PCA-projected to {dim}-d"
    return x, source


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m smartlib_bench.scale_bench")
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated catalog sizes")
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--home", help="catalog home whose vectors seed 'perturbed real' data (read-only)")
    parser.add_argument("--out", default="var/bench", help="output folder (default var/bench/)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    real, source = (None, "")
    if args.home:
        real, source = load_real_vectors(Path(args.home), args.dim)
    result = run(sizes, args.dim, args.queries, real, args.seed, progress=not args.quiet, real_source=source)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale.json").write_text(json.dumps(result, indent=2))
    print(markdown(result))
    print(f"\nwrote {out / 'scale.json'}", file=sys.stderr)


if __name__ == "__main__":
    main()
