"""`smartlib` command line: serve, ingest and the model/knowledge-base jobs."""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from pathlib import Path

from smartlib_server.config import Settings
from smartlib_server.errors import ConfigError, SmartLibError


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        home=Path(args.home) if getattr(args, "home", None) else None,
        grpc_port=getattr(args, "port", None),
        grpc_host=getattr(args, "host", None),
        database_url=getattr(args, "database_url", None),
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from smartlib_server.server import serve

    asyncio.run(serve(_settings(args), seed_starter=args.seed_starter))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from smartlib_server.app import build_services
    from smartlib_server.services.ingest import ingest_csv

    path = Path(args.path)
    if not path.is_file():
        print(f"error: {path} does not exist or is not a file", file=sys.stderr)
        return 2
    services = build_services(_settings(args))
    try:
        report = ingest_csv(services.catalog, path)
    except ValueError as exc:  # wrong schema: say what is missing
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        services.close()
    for error in report.errors[:20]:
        print(f"line {error.line}: rejected: {error.reason}", file=sys.stderr)
    if len(report.errors) > 20:
        print(f"... and {len(report.errors) - 20} more rejected rows", file=sys.stderr)
    if args.json:
        print(json.dumps(report.summary()))
    else:
        print(", ".join(f"{k}={v}" for k, v in report.summary().items()))
    return 0


def cmd_export_mar(args: argparse.Namespace) -> int:
    from smartlib_training.artifacts import latest_version
    from smartlib_training.mar_export import export_mars

    settings = _settings(args)
    version = args.version or latest_version(settings.model_store)
    if not version:
        print(f"error: no encoder version in {settings.model_store}/encoder; run `smartlib train` first", file=sys.stderr)
        return 2
    for path in export_mars(settings.model_store, settings.model_store / "encoder" / version):
        print(path)
    return 0


def _catalog_for_training(settings: Settings):
    """Books and their stored 2688-d vectors, row-aligned, from the catalog store."""
    from smartlib_server.adapters.catalog_store import open_store
    from smartlib_server.embedding import EMBEDDER_ID

    store = open_store(settings.database_url, settings.sqlite_path)
    try:
        books = {b.id: b for b in store.all_books()}
        ids, vectors = store.load_vectors(EMBEDDER_ID)
    finally:
        store.close()
    return [books[i] for i in ids], vectors


def _behaviour_path(args: argparse.Namespace) -> Path | None:
    """--behaviour, else goodreads_similar_dev.jsonl in SMARTLIB_DATA_DIR (default ../shared/data)
    when it exists; None when there is no such file (the built-in reader ranker is used)."""
    if args.behaviour:
        path = Path(args.behaviour)
        if not path.is_file():
            raise ConfigError(f"--behaviour {path}: no such file")
        return path
    path = Path(os.environ.get("SMARTLIB_DATA_DIR", "../shared/data")) / "goodreads_similar_dev.jsonl"
    return path if path.is_file() else None


def _active_encoder(settings: Settings) -> tuple[str, dict] | None:
    """(version, manifest) of the encoder a server would serve now: the last activated one, else
    the newest; None when there is none or it does not verify (then nothing gates training)."""
    from smartlib_core import atomic
    from smartlib_core import encoder_versions as artifacts

    pointer = atomic.read_pointer(settings.home / "active_encoder.json")
    version = pointer[0] if pointer else artifacts.latest_version(settings.model_store)
    if not version:
        return None
    try:
        return version, artifacts.read_manifest(settings.model_store / "encoder" / version)
    except artifacts.ArtifactIntegrityError:
        return None


def cmd_train(args: argparse.Namespace) -> int:
    from smartlib_server.embedding import MiniLMTextEncoder
    from smartlib_training.pipeline import QualityGateRefused, run_train
    from smartlib_training.train import TrainParams

    settings = _settings(args)
    books, vectors = _catalog_for_training(settings)
    if len(books) < 20:
        print(f"error: the catalog has {len(books)} embedded books; ingest a catalog first", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
    try:
        params = TrainParams(**overrides)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    behaviour = _behaviour_path(args)
    print(f"behaviour file: {behaviour or 'none found; the built-in reader ranker is stored'}")
    try:
        version_dir = run_train(books, vectors, settings.model_store, params, progress=True,
                                text_encoder=MiniLMTextEncoder(), behaviour_path=behaviour,
                                active=_active_encoder(settings), force=args.force)
    except QualityGateRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"encoder version {version_dir.name} written to {version_dir}")
    print(f"report: {version_dir / 'report.md'}")
    if not args.no_mar:
        from smartlib_training.mar_export import ArchiveError, export_mars

        try:
            paths = export_mars(settings.model_store, version_dir)
        except ArchiveError as exc:  # the encoder itself is saved and servable in-process
            print(f"error: no TorchServe archives for {version_dir.name}: {exc}; the model store needs "
                  "config/ (copy the project's model_store/config), or pass --no-mar", file=sys.stderr)
            return 1
        for path in paths:
            print(f"archive: {path}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from smartlib_server.embedding import MiniLMTextEncoder
    from smartlib_training.artifacts import latest_version
    from smartlib_training.pipeline import run_eval
    from smartlib_training.report import metrics_table, quality_tables

    settings = _settings(args)
    version = args.version or latest_version(settings.model_store)
    if not version:
        print(f"error: no encoder version in {settings.model_store}/encoder; run `smartlib train` first", file=sys.stderr)
        return 2
    books, vectors = _catalog_for_training(settings)
    metrics, quality = run_eval(books, vectors, settings.model_store / "encoder" / version, MiniLMTextEncoder(),
                                Path(args.report_dir) if args.report_dir else None, _behaviour_path(args))
    print(metrics_table(metrics))
    print()
    print(quality_tables(quality))
    return 0


def cmd_chat_eval(args: argparse.Namespace) -> int:
    from smartlib_server.services.chat.suite.__main__ import main as chat_eval

    argv = [*(["--home", args.home] if args.home else []), *(["--failures"] if args.failures else []),
            *(["--json"] if args.json else []), *(["--only", args.only] if args.only else [])]
    return chat_eval(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smartlib", description="Smart Library book-recommendation server")
    parser.add_argument("--log-level", default="INFO", help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", help="data folder (env SMARTLIB_HOME, default ./var)")
        p.add_argument("--database-url", help="postgresql:// URL (env SMARTLIB_DATABASE_URL); default SQLite")

    serve = sub.add_parser("serve", help="run the gRPC server")
    common(serve)
    serve.add_argument("--host", help="bind address (env SMARTLIB_GRPC_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="gRPC port (env SMARTLIB_GRPC_PORT, default 50051)")
    serve.add_argument("--seed-starter", action="store_true", help="load the bundled starter catalog if the store is empty")
    serve.set_defaults(func=cmd_serve)

    ingest = sub.add_parser("ingest", help="import a Goodreads books CSV and embed new or changed books")
    common(ingest)
    ingest.add_argument("path", help="CSV in the Kaggle 'Best Books 10k Multi-Genre Data' schema")
    ingest.add_argument("--json", action="store_true", help="print one JSON line with the counts")
    ingest.set_defaults(func=cmd_ingest)

    chat_eval = sub.add_parser("chat-eval", help="run the chat conversation suite and print the pass rate per category")
    chat_eval.add_argument("--home", help="a home with an ingested catalog, e.g. a copy of the 10k one (default: the starter catalog)")
    chat_eval.add_argument("--failures", action="store_true", help="print every failed expectation")
    chat_eval.add_argument("--json", action="store_true", help="print the result as JSON")
    chat_eval.add_argument("--only", default="", help="run only conversations whose id starts with this")
    chat_eval.set_defaults(func=cmd_chat_eval)

    train = sub.add_parser("train", help="train a FINETUNED encoder on the stored vectors, evaluate it, version it")
    common(train)
    train.add_argument("--epochs", type=int, help="training epochs (default from TrainParams)")
    train.add_argument("--seed", type=int, help="random seed (default 13)")
    train.add_argument("--no-mar", action="store_true", help="skip building the TorchServe archives")
    behaviour_help = ("'readers also enjoyed' lists (JSON lines) to fit and score the reader ranker on "
                      "(default: goodreads_similar_dev.jsonl in SMARTLIB_DATA_DIR, ../shared/data, when present)")
    train.add_argument("--behaviour", help=behaviour_help)
    train.add_argument("--force", action="store_true",
                       help="write the version even if the quality gate finds it worse than the active one")
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("eval", help="score BASELINE and FINETUNED on the held-out books")
    common(evaluate)
    evaluate.add_argument("--version", help="encoder version (default: the newest)")
    evaluate.add_argument("--report-dir", help="write a fresh Markdown report with plots here")
    evaluate.add_argument("--behaviour", help=behaviour_help)
    evaluate.set_defaults(func=cmd_eval)

    export = sub.add_parser("export-mar", help="build TorchServe .mar archives for an encoder version")
    common(export)
    export.add_argument("--version", help="encoder version (default: the newest)")
    export.set_defaults(func=cmd_export_mar)

    from smartlib_server.artifacts.cli import add_kb_commands
    from smartlib_server.services.personalization.cli_commands import add_experiment_commands

    add_experiment_commands(sub, common, _settings)
    add_kb_commands(sub)  # `kb ...` and `artifact ...`: handlers take (settings, args)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("faiss.loader", "sentence_transformers", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        if hasattr(args, "handler"):
            return args.handler(Settings.from_env(), args)
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except SmartLibError as exc:  # a job refused with a reason the operator can act on
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
