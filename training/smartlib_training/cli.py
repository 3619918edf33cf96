"""`smartlib train`, `smartlib eval` and `smartlib export-mar`: training's own subcommands.

The `smartlib` command belongs to the server package; it finds these through the
`smartlib.commands` entry point and hands over a host with two callables: `settings(args)`
(Settings from the common flags and the environment) and `catalog(settings)` (the catalog's books
and stored 2688-d vectors, row-aligned). So training reads the catalog without importing the
server, and the server runs training without importing it.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

from smartlib_core import atomic, encoder_versions as versions
from smartlib_core.errors import ConfigError

BEHAVIOUR_FILE = "goodreads_similar_dev.jsonl"


def add_commands(sub, common, host) -> None:
    """Adds train, eval and export-mar to the `smartlib` subparsers."""
    train = sub.add_parser("train", help="train a FINETUNED encoder on the stored vectors, evaluate it, version it")
    common(train)
    train.add_argument("--epochs", type=int, help="training epochs (default from TrainParams)")
    train.add_argument("--seed", type=int, help="random seed (default 13)")
    train.add_argument("--no-mar", action="store_true", help="skip building the TorchServe archives")
    behaviour_help = ("'readers also enjoyed' lists (JSON lines) to fit and score the reader ranker on "
                      f"(default: {BEHAVIOUR_FILE} in SMARTLIB_DATA_DIR, ../shared/data, when present)")
    train.add_argument("--behaviour", help=behaviour_help)
    train.add_argument("--force", action="store_true",
                       help="write the version even if the quality gate finds it worse than the active one")
    train.set_defaults(func=functools.partial(cmd_train, host=host))

    evaluate = sub.add_parser("eval", help="score BASELINE and FINETUNED: held-out proxies, behaviour, text asks")
    common(evaluate)
    evaluate.add_argument("--version", help="encoder version (default: the newest)")
    evaluate.add_argument("--report-dir", help="write a fresh Markdown report with plots here")
    evaluate.add_argument("--behaviour", help=behaviour_help)
    evaluate.set_defaults(func=functools.partial(cmd_eval, host=host))

    export = sub.add_parser("export-mar", help="build TorchServe .mar archives for an encoder version")
    common(export)
    export.add_argument("--version", help="encoder version (default: the newest)")
    export.set_defaults(func=functools.partial(cmd_export_mar, host=host))


def behaviour_path(args: argparse.Namespace) -> Path | None:
    """--behaviour, else the behaviour file in SMARTLIB_DATA_DIR (default ../shared/data) when it
    exists; None when there is none (the built-in reader ranker is used)."""
    if args.behaviour:
        path = Path(args.behaviour)
        if not path.is_file():
            raise ConfigError(f"--behaviour {path}: no such file")
        return path
    path = Path(os.environ.get("SMARTLIB_DATA_DIR", "../shared/data")) / BEHAVIOUR_FILE
    return path if path.is_file() else None


def active_encoder(settings) -> tuple[str, dict] | None:
    """(version, manifest) of the encoder a server would serve now: the last activated one, else
    the newest; None when there is none or it does not verify (then nothing gates training)."""
    pointer = atomic.read_pointer(Path(settings.home) / "active_encoder.json")
    version = pointer[0] if pointer else versions.latest_version(settings.model_store)
    if not version:
        return None
    try:
        return version, versions.read_manifest(versions.encoder_root(settings.model_store) / version)
    except versions.ArtifactIntegrityError:
        return None


def cmd_train(args: argparse.Namespace, host) -> int:
    from smartlib_core.embedding import MiniLMTextEncoder
    from smartlib_training.mar_export import ArchiveError, export_mars
    from smartlib_training.pipeline import QualityGateRefused, run_train
    from smartlib_training.train import TrainParams

    settings = host.settings(args)
    books, vectors = host.catalog(settings)
    if len(books) < 20:
        print(f"error: the catalog has {len(books)} embedded books; ingest a catalog first", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
    try:
        params = TrainParams(**overrides)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    behaviour = behaviour_path(args)
    print(f"behaviour file: {behaviour or 'none found; the built-in reader ranker is stored'}")
    try:
        version_dir = run_train(books, vectors, settings.model_store, params, progress=True,
                                text_encoder=MiniLMTextEncoder(), behaviour_path=behaviour,
                                active=active_encoder(settings), force=args.force)
    except QualityGateRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"encoder version {version_dir.name} written to {version_dir}")
    print(f"report: {version_dir / 'report.md'}")
    if not args.no_mar:
        try:
            paths = export_mars(settings.model_store, version_dir)
        except ArchiveError as exc:  # the encoder itself is saved and servable in-process
            print(f"error: no TorchServe archives for {version_dir.name}: {exc}; the model store needs "
                  "config/ (copy the project's model_store/config), or pass --no-mar", file=sys.stderr)
            return 1
        for path in paths:
            print(f"archive: {path}")
    return 0


def cmd_eval(args: argparse.Namespace, host) -> int:
    from smartlib_core.embedding import MiniLMTextEncoder
    from smartlib_training.pipeline import run_eval
    from smartlib_training.report import metrics_table, quality_tables

    settings = host.settings(args)
    version = args.version or versions.latest_version(settings.model_store)
    if not version:
        print(f"error: no encoder version in {settings.model_store}/encoder; run `smartlib train` first", file=sys.stderr)
        return 2
    books, vectors = host.catalog(settings)
    behaviour = behaviour_path(args)
    # RecommendForUser is scored through the server's own code, when the server lends it.
    personal = host.personal(settings) if behaviour is not None and getattr(host, "personal", None) else None
    try:
        metrics, quality = run_eval(books, vectors, versions.encoder_root(settings.model_store) / version,
                                    MiniLMTextEncoder(), Path(args.report_dir) if args.report_dir else None, behaviour,
                                    personal)
    finally:
        if personal is not None:
            personal.close()
    print(metrics_table(metrics))
    print()
    print(quality_tables(quality))
    return 0


def cmd_export_mar(args: argparse.Namespace, host) -> int:
    from smartlib_training.mar_export import export_mars

    settings = host.settings(args)
    version = args.version or versions.latest_version(settings.model_store)
    if not version:
        print(f"error: no encoder version in {settings.model_store}/encoder; run `smartlib train` first", file=sys.stderr)
        return 2
    for path in export_mars(settings.model_store, versions.encoder_root(settings.model_store) / version):
        print(path)
    return 0
