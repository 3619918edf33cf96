"""The evaluation report: a Markdown summary plus loss-curve and metric-bar PNGs."""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from smartlib_training.evaluate import COST_METRICS, QUALITY_METRICS

REPORT_FILE = "report.md"
LOSS_PLOT = "loss.png"
METRICS_PLOT = "metrics.png"
QUALITY_PLOT = "quality.png"

_LABELS = {
    "ndcg@10": "nDCG@10 (genre Jaccard)",
    "series_recall@10": "same-series recall@10",
    "author_recall@10": "same-author recall@10",
    "genre_query_precision@10": '"<genre> books" precision@10',
    "ndcg@10_no_description": "nDCG@10, books without description",
    "search_ms_p50": "search latency p50 (ms)",
    "search_ms_mean": "search latency mean (ms)",
    "index_mb": "index memory (MiB)",
}


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def metrics_table(metrics: dict[str, dict[str, float]]) -> str:
    """Markdown table: one row per metric, BASELINE vs FINETUNED and the change."""
    base, tuned = metrics["baseline"], metrics["finetuned"]
    lines = ["| metric | BASELINE (2688-d) | FINETUNED (256-d) | change |", "|---|---:|---:|---:|"]
    for key in QUALITY_METRICS:
        if key in base and key in tuned:
            lines.append(f"| {_LABELS[key]} | {_fmt(base[key])} | {_fmt(tuned[key])} | {tuned[key] - base[key]:+.3f} |")
    for key in COST_METRICS:
        if key in base and key in tuned:
            ratio = base[key] / tuned[key] if tuned[key] else float("inf")
            lines.append(f"| {_LABELS[key]} | {_fmt(base[key])} | {_fmt(tuned[key])} | {ratio:.1f}x less |")
    return "\n".join(lines)


def plot_loss(epoch_losses: Sequence[float], epoch_parts: Sequence[dict[str, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and CI
    import matplotlib.pyplot as plt

    epochs = range(1, len(epoch_losses) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=110)
    ax.plot(epochs, epoch_losses, marker="o", label="total")
    for name in (epoch_parts[0].keys() if epoch_parts else ()):
        ax.plot(epochs, [p[name] for p in epoch_parts], linestyle="--", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean training loss")
    ax.set_title("FINETUNED encoder training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_metrics(metrics: dict[str, dict[str, float]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = [k for k in QUALITY_METRICS if k in metrics["baseline"] and k in metrics["finetuned"]]
    x = np.arange(len(keys))
    fig, (ax, ax_cost) = plt.subplots(1, 2, figsize=(11, 4), dpi=110, gridspec_kw={"width_ratios": [3, 1.4]})
    for offset, name in ((-0.2, "baseline"), (0.2, "finetuned")):
        ax.bar(x + offset, [metrics[name][k] for k in keys], width=0.4, label=name.upper())
    wrapped = [_LABELS[k].replace(" (", "\n(").replace(", ", ",\n").replace(" recall", "\nrecall")
               .replace(" precision", "\nprecision") for k in keys]
    ax.set_xticks(x, wrapped, fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_title("held-out quality (higher is better)")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    cost = [k for k in ("search_ms_p50", "index_mb") if k in metrics["baseline"]]
    cx = np.arange(len(cost))
    for offset, name in ((-0.2, "baseline"), (0.2, "finetuned")):
        ax_cost.bar(cx + offset, [metrics[name][k] for k in cost], width=0.4, label=name.upper())
    ax_cost.set_xticks(cx, [_LABELS[k] for k in cost], fontsize=7)
    ax_cost.set_yscale("log")
    ax_cost.set_title("cost (lower is better, log scale)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _interval(values: dict) -> str:
    return f"{values['mean']:.3f} [{values['low']:.3f}, {values['high']:.3f}]"


def quality_tables(quality: dict) -> str:
    """Markdown: behavioural metrics per variant, known-item hit@10 and broad genre picks."""
    lines: list[str] = []
    behaviour = quality.get("behaviour")
    if behaviour:
        lines += [f"Behavioural queries: {quality.get('behaviour_queries', 0)} (\"readers also enjoyed\" lists); "
                  "95 % bootstrap intervals over query books.", "",
                  "| ranking | recall@10 | nDCG@10 | MRR@10 |", "|---|---:|---:|---:|"]
        for name, values in behaviour.items():
            if "recall@10" in values:
                lines.append(f"| {name} | {_interval(values['recall@10'])} | {_interval(values['ndcg@10'])} "
                             f"| {_interval(values['mrr@10'])} |")
        for name, values in behaviour.items():
            if "recall" in values:
                lines += ["", f"{name}: {_interval(values['recall'])}"]
        lines.append("")
    lines += _personal_table(quality.get("personal"))
    known = quality.get("known_item_hit@10")
    if known:
        lines += ["| known-item search hit@10 (first sentence of the description) | value |", "|---|---:|"]
        lines += [f"| {name} | {_interval(values)} |" for name, values in known.items()]
        lines.append("")
    picks = quality.get("genre_picks")
    if picks:
        reference = next((v["median_num_ratings"] for n, v in picks.items() if "reference" in n), 0.0)
        lines += ['| "recommend <genre> books", most common genres | median Num_Ratings | × by popularity | share carrying the genre |',
                  "|---|---:|---:|---:|"]
        lines += [f"| {name} | {values['median_num_ratings']:,.0f} | "
                  f"{values['median_num_ratings'] / reference if reference else float('nan'):.2f}× | {values['genre_share']:.2f} |"
                  for name, values in picks.items()]
        lines.append("")
    lines.append(f"Reader ranker: {quality.get('reader_ranker', 'n/a')}.")
    return "\n".join(lines)


def _personal_table(personal: dict | None) -> list[str]:
    """RecommendForUser beside SimilarBooks(Q), per protocol (training/smartlib_training/personal_quality.py)."""
    if not personal:
        return []
    lines = ["Fresh readers who rated the query book (one book), or it and the first two books of its list "
             "(three books), 5 stars; the target is the rest of the list.", "",
             "| evidence | ranking | recall@10 | nDCG@10 | own books returned |", "|---|---|---:|---:|---:|"]
    notes = [f"{name}: {value}" for name, value in personal.items() if not isinstance(value, dict)]
    for protocol, table in personal.items():
        for name, values in table.items() if isinstance(table, dict) else ():
            if isinstance(values, dict):
                lines.append(f"| {protocol} ({table['readers']} readers) | {name} | {_interval(values['recall@10'])} "
                             f"| {_interval(values['ndcg@10'])} | {values['own books returned']['mean']:.3f} |")
    return [*lines, "", *notes, ""]


def plot_quality(quality: dict, path: Path) -> Path | None:
    """Behavioural recall@10 per variant and known-item hit@10, with their intervals."""
    bars = [(name, values["recall@10"]) for name, values in quality.get("behaviour", {}).items() if "recall@10" in values]
    bars += [(f"known-item hit@10: {name}", values) for name, values in quality.get("known_item_hit@10", {}).items()]
    if not bars:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(bars) + 1.2), dpi=110)
    means = [v["mean"] for _, v in bars]
    errors = [[v["mean"] - v["low"] for _, v in bars], [v["high"] - v["mean"] for _, v in bars]]
    ax.barh(range(len(bars)), means, xerr=errors, color=["#4c72b0" if "known" not in n else "#dd8452" for n, _ in bars])
    ax.set_yticks(range(len(bars)), [n.replace(" (", "\n(") for n, _ in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_title("what readers see: behavioural recall@10 and known-item hit@10 (95 % intervals)", fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(directory: Path, metrics: dict[str, dict[str, float]], epoch_losses: Sequence[float],
                 epoch_parts: Sequence[dict[str, float]], summary: dict[str, object], quality: dict | None = None) -> list[Path]:
    """Writes report.md, loss.png and metrics.png into `directory` and returns their paths.

    Args:
        summary: facts to list under "Run" (books, held-out books, seconds, hyper-parameters...).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    loss_png = plot_loss(epoch_losses, epoch_parts, directory / LOSS_PLOT)
    metrics_png = plot_metrics(metrics, directory / METRICS_PLOT)
    quality_png = plot_quality(quality or {}, directory / QUALITY_PLOT)
    lines = [
        "# FINETUNED encoder: evaluation report",
        "",
        "Queries are held-out books (their authors never appear in training); the index is the whole",
        "catalog. These proxies score the learned space (256-d cosine plus the popularity prior, before",
        "the reader ranker); BASELINE ranks by 2688-d cosine.",
        "Recall@10 divides by min(relevant, 10). Latency is one query at a time, one FAISS thread.",
        "",
        metrics_table(metrics),
        "",
        f"![metrics]({METRICS_PLOT})",
        "",
    ]
    if quality:
        lines += ["## What readers see", "", quality_tables(quality), ""]
        lines += [f"![quality]({QUALITY_PLOT})", ""] if quality_png else []
    lines += [
        "## Training loss per epoch",
        "",
        "| epoch | total | " + " | ".join(epoch_parts[0].keys() if epoch_parts else ()) + " |",
        "|---:|---:|" + "---:|" * len(epoch_parts[0] if epoch_parts else ()),
    ]
    for i, total in enumerate(epoch_losses):
        parts = epoch_parts[i] if i < len(epoch_parts) else {}
        lines.append(f"| {i + 1} | {total:.4f} | " + " | ".join(f"{v:.4f}" for v in parts.values()) + " |")
    lines += ["", f"![loss]({LOSS_PLOT})", "", "## Run", ""]
    lines += [f"- **{key}**: {value}" for key, value in summary.items()]
    path = directory / REPORT_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [path, loss_png, metrics_png, *([quality_png] if quality_png else [])]
