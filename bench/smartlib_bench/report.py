"""The bench report: a Markdown summary table plus a plot of the ratios."""
from __future__ import annotations

from pathlib import Path


def summary_table(results: dict) -> str:
    rows: list[tuple[str, str, str]] = []
    emb = results.get("embedding", {})
    if "naive_books_per_s" in emb:
        rows.append(("embedding, naive baseline", f"{emb['naive_books_per_s']:.1f} books/s", "1.00x"))
        for name in ("fp32", "bf16"):
            e = emb[name]
            rows.append((
                f"embedding, ours {name}", f"{e['books_per_s']:.1f} books/s",
                f"{e['speedup_vs_naive']:.2f}x naive; cosine mean {e['cosine_mean']:.5f}, min {e['cosine_min']:.5f}",
            ))
        if "runtime" in emb:  # the serving runtime (SMARTLIB_RUNTIME); the ingest target is vs torch bf16
            e = emb["runtime"]
            rows.append((
                f"embedding, runtime {emb['runtime_name']}", f"{e['books_per_s']:.1f} books/s",
                f"{e['speedup_vs_bf16']:.2f}x torch bf16, {e['speedup_vs_naive']:.2f}x naive; "
                f"cosine to fp32 mean {e['cosine_mean']:.5f}, min {e['cosine_min']:.5f}",
            ))
    for key, label in (("faiss_baseline", "BASELINE"), ("faiss_finetuned", "FINETUNED")):
        f = results.get(key)
        if f:
            rows.append((
                f"FAISS flat {label} {f['vectors']}x{f['dim']}", f"{f['single_query_ms']:.3f} ms/query",
                f"{f['fraction_of_bound']:.0%} of the bandwidth bound ({f['bandwidth_bound_ms']:.3f} ms); index {f['index_mb']:.1f} MB",
            ))
            rows.append((
                f"FAISS {label} batch of 32", f"{f['batch32_default_ms']:.2f} ms without BLAS",
                f"{f['batch32_blas_ms']:.2f} ms with BLAS forced",
            ))
    for name, g in results.get("grpc", {}).items():
        rows.append((f"gRPC {name}", f"{g['qps']:.0f} req/s, p50 {g['p50_ms']:.2f} ms, p99 {g['p99_ms']:.2f} ms",
                     f"{g['ratio_to_empty_c8']:.2f}x empty RPC c8; errors {g['errors']}"))
        if "qps_vs_similar_varied" in g:
            rows.append((f"  {name} vs SimilarBooks varied", f"{g['qps_vs_similar_varied']:.2f}x its req/s",
                         f"{g['p50_vs_similar_varied']:.2f}x its p50"))
        if "fused_vs_dense_only" in g:
            rows.append(("  SearchByText miss c8, lexical fusion on vs off", f"{g['fused_vs_dense_only']:.2f}x the dense-only req/s",
                         f"one run, fusion flipped every window ({g.get('windows', 0)} windows)"))
        for batcher, b in g.get("batches", {}).items():
            rows.append((f"  batches ({batcher}) in {name}", f"{b['batches']} batches, mean {b['mean']:.1f} items",
                         "batches of at most N items: " + histogram_text(b["cumulative"])))
    grpc = results.get("grpc", {})
    for name, t in results.get("in_process_text", {}).items():  # the same work without gRPC
        served = grpc.get(f"text_finetuned_miss_c{t['concurrency']}") or grpc.get(f"text_baseline_miss_c{t['concurrency']}")
        ceiling = max((grpc[k]["qps"] for k in ("empty_c8", "empty_c8_end") if k in grpc), default=0.0)
        relative = [f"{t['qps'] / ceiling:.2f}x empty RPC c8"] if ceiling else []
        if served:
            relative.append(f"SearchByText miss over gRPC at c{t['concurrency']} gets {served['qps'] / t['qps']:.2f}x this")
        rows.append((f"in process, no gRPC: {name}", f"{t['qps']:.0f} req/s, p50 {t['p50_ms']:.2f} ms, p99 {t['p99_ms']:.2f} ms",
                     "; ".join(relative)))
    for name, m in results.get("index_memory", {}).items():
        per_book = f"{m['bytes_per_book']:.0f} bytes/book"
        if "bound_bytes" in m:  # a bounded per-book structure: what it can grow to
            per_book += f", at most {m['bound_bytes'] / 2**20:.0f} MiB"
        rows.append((f"memory {name}", f"{m['bytes'] / 2**20:.1f} MiB for {m['books']} books", per_book))
    proc = results.get("server_process")
    if proc:
        rows.append(("restart to SERVING (separate `smartlib serve`)", f"{proc['seconds_to_serving']:.2f} s",
                     f"RSS {proc['rss_mib']:.0f} MiB once serving"))
        first = proc.get("after_serving")
        if first:
            start, end = first["window_s"]
            warm = results.get("grpc", {}).get("similar_finetuned_varied_c8", {}).get("ratio_to_empty_c8")
            rows.append((f"  varied SimilarBooks c8, {start:.1f}-{end:.1f} s after that SERVING",
                         f"{first['varied_qps']:.0f} req/s, p50 {first['varied_p50_ms']:.1f} ms",
                         f"{first['ratio_to_empty_c8']:.2f}x the restarted server's empty RPC"
                         + (f" (up a while: {warm:.2f}x)" if warm is not None else "")))
    for section in results.get("extra", {}).values():
        rows.extend(tuple(r) for r in section.get("rows", []))
    m = results["machine"]
    head = (f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; "
            f"read bandwidth {results['read_bandwidth_gbs']:.1f} GB/s (1 thread)\n\n")
    lines = ["| what | measured | relative |", "|---|---|---|", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    return head + "\n".join(lines)


def histogram_text(cumulative: dict[str, int]) -> str:
    """'1: 3, 2: 5, ...' from Prometheus' cumulative buckets, the empty tail left out."""
    total = max(cumulative.values(), default=0)
    shown = []
    for le, count in sorted(cumulative.items(), key=lambda kv: float(kv[0])):
        shown.append(f"≤{le.removesuffix('.0')}: {count}")
        if count >= total:
            break
    return ", ".join(shown)


def write(out: Path, results: dict, table: str, scale: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grpc = results.get("grpc", {})
    if grpc:
        names = list(grpc)
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.barh(names, [grpc[n]["ratio_to_empty_c8"] for n in names])
        ax.set_xlabel("QPS relative to the empty RPC at concurrency 8")
        fig.tight_layout()
        fig.savefig(out / "grpc_ratios.png", dpi=110)
        plt.close(fig)
    body = f"# Smart Library benchmark\n\nRun started {results['started']}.\n\n{table}\n"
    if grpc:
        body += "\n![gRPC throughput relative to the empty RPC](grpc_ratios.png)\n"
    if scale:
        body += f"\n## Index types on synthetic catalogs\n\n{scale}\n"
    (out / "report.md").write_text(body)
