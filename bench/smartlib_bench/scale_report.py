"""The Markdown table of a scale_bench result (kept apart so the measuring module stays one job)."""
from __future__ import annotations

from smartlib_server.services.recommend.vector_index import AUTO_FLAT_MAX_BYTES, IVF_NPROBE


def markdown(result: dict) -> str:
    data = result["data"]
    lines = [
        f"{data['kind']}: {data['source']}; noise scale {data['noise_scale']:.4f} per dimension, "
        f"mean cosine to parent {data['mean_cosine_to_parent']:.3f}; {result['queries']} held-out queries, "
        f"latency over {result['latency_queries']} single queries on 1 thread.",
        "",
        "| books | index | build s | MB | bytes/book | p50 ms | p99 ms | recall@10 |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    rows = [(n, s["configs"]) for n, s in result["sizes"].items()]
    rows.append((f"{result['uniform_random']['size']} uniform", result["uniform_random"]["configs"]))
    for n, configs in rows:
        for name, e in configs.items():
            label = f"{int(n):,}" if str(n).isdigit() else n
            lines.append(
                f"| {label} | {name} | {e['build_s']:.1f} | {e['bytes'] / 1e6:.1f} | {e['bytes_per_book']:.0f} | "
                f"{e['p50_ms']:.3f} | {e['p99_ms']:.3f} | {e['recall_at_10']:.4f} |")
    lines.append("")
    if result["flat_curve"]:
        lines.append("Flat single-query latency near the auto threshold (random vectors):")
        lines.append("")
        lines.append("| books | MiB | p50 ms | p99 ms | auto picks |")
        lines.append("|---:|---:|---:|---:|---|")
        for n, c in result["flat_curve"].items():
            lines.append(f"| {int(n):,} | {c['mib']:.1f} | {c['p50_ms']:.3f} | {c['p99_ms']:.3f} | {c['auto']} |")
        lines.append("")
    for n, s in result["sizes"].items():
        a = s["auto"]
        lines.append(f"- {int(n):,} books: auto picks **{a['kind']}** ({a['config']}); "
                     f"<= 1 GB: {a['fits_1gb']}, recall@10 >= 0.95: {a['recall_ok']}")
        server = s["configs"]["server ivf"]["params"]
        lines.append(f"  - server ivf ({server['kind']}): the Python id maps add "
                     f"{server['python_bytes_per_book']:.0f} bytes/book ({server['python_bytes'] / 1e6:.0f} MB) "
                     "on top of the index")
    t = result["target"]
    if t["measured"]:
        lines.append(f"- 1M target (<= 10^9 bytes, recall@10 >= 0.95): auto choice meets it: {t['auto_meets']}; "
                     f"configs meeting it: {', '.join(t['configs_meeting']) or 'none'}")
    lines.append(f"- auto rule: flat while n x dim x 4 <= {AUTO_FLAT_MAX_BYTES // 2**20} MiB, else ivf (IVF-SQ8, "
                 f"nprobe {IVF_NPROBE})")
    return "\n".join(lines)
