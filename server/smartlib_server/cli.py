"""`smartlib` command line: serve, ingest and the model/knowledge-base jobs."""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from smartlib_core.errors import ConfigError, SmartLibError
from smartlib_server import logs
from smartlib_server.config import Settings, log_format_from_env


@dataclasses.dataclass(frozen=True)
class CommandHost:
    """What the server lends the commands other packages add: Settings from flags, the
    catalog's books with their stored 2688-d vectors, row-aligned, and RecommendForUser's
    ranking for a fresh reader (`smartlib eval` scores it on readers' lists)."""

    settings: Callable[[argparse.Namespace], Settings]
    catalog: Callable[[Settings], tuple[list, Any]]  # (books, (n, 2688) float32 vectors)
    personal: Callable[[Settings], Any] | None = None  # -> a FreshReaders (close it when done)


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        home=Path(args.home) if getattr(args, "home", None) else None,
        grpc_port=getattr(args, "port", None),
        grpc_host=getattr(args, "host", None),
        database_url=getattr(args, "database_url", None),
    )


def cmd_serve(args: argparse.Namespace) -> int:
    gc.disable()  # a start allocates ~200k lasting objects, imports included: server._settle_collector
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


def _catalog_for_training(settings: Settings):
    """Books and their stored 2688-d vectors, row-aligned, from the catalog store."""
    from smartlib_core.embedding import EMBEDDER_ID
    from smartlib_server.adapters.catalog_store import open_store

    store = open_store(settings.database_url, settings.sqlite_path)
    try:
        books = {b.id: b for b in store.all_books()}
        ids, vectors = store.load_vectors(EMBEDDER_ID)
    finally:
        store.close()
    return [books[i] for i in ids], vectors


class FreshReaders:
    """RecommendForUser's ranking for a reader whose whole history is 5-star ratings of
    `book_ids` (oldest first), as the served code computes it; nothing is stored or read back."""

    def __init__(self, settings: Settings):
        from smartlib_server.app import build_services

        self.services = build_services(settings)
        self.services.index.load(finetuned=self.services.versions.startup_encoder())

    def __call__(self, book_ids: list[str], k: int, ranking: str = "") -> list[str]:
        """`ranking` as an experiment arm names it: "" the default, "readers" or "blend"."""
        from smartlib_core.domain import BookFilter
        from smartlib_server.domain.personalization import Arm, Interaction, InteractionKind

        history = [Interaction("eval", b, InteractionKind.RATE, 5, i) for i, b in enumerate(book_ids)]
        arm = Arm("eval", 1.0, ranking=ranking)
        items, _, _ = self.services.personalization.recommender.ranked(history, k, BookFilter(), arm)
        return [item.book.id for item in items]

    def close(self) -> None:
        self.services.close()


def cmd_chat_eval(args: argparse.Namespace) -> int:
    """The conversation suite, which lives in the checkout's bench/ (run, never imported: the
    server does not depend on its own test material), or the intent model's k-fold report."""
    if args.intents or args.write_weights:
        from smartlib_server.services.chat.intent_training import main as intent_eval

        return intent_eval(write=args.write_weights)
    bench = Path(__file__).resolve().parents[2] / "bench"
    if not (bench / "smartlib_bench" / "chat_suite").is_dir():
        print("error: chat-eval runs the suite in bench/smartlib_bench/chat_suite, which only a source checkout has; "
              "run `make chat-eval` there", file=sys.stderr)
        return 2
    argv = [*(["--home", args.home] if args.home else []), *(["--failures"] if args.failures else []),
            *(["--json"] if args.json else []), *(["--only", args.only] if args.only else [])]
    path = os.pathsep.join(p for p in (str(bench), os.environ.get("PYTHONPATH", "")) if p)
    return subprocess.call([sys.executable, "-m", "smartlib_bench.chat_suite", *argv], env={**os.environ, "PYTHONPATH": path})


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
    chat_eval.add_argument("--intents", action="store_true",
                           help="cross-validate the intent model on its corpus (folds by paraphrase family) instead")
    chat_eval.add_argument("--write-weights", action="store_true",
                           help="with --intents: retrain on the whole corpus and write the shipped weights")
    chat_eval.set_defaults(func=cmd_chat_eval)

    # Jobs other packages contribute (training's train, eval and export-mar), found by entry
    # point so the server never imports them: each gets the subparsers and what it may need
    # from the server (how flags become Settings, and the catalog as books and vectors).
    host = CommandHost(settings=_settings, catalog=_catalog_for_training, personal=FreshReaders)
    for entry in sorted(entry_points(group="smartlib.commands"), key=lambda e: e.name):
        entry.load()(sub, common, host)

    from smartlib_server.artifacts.cli import add_kb_commands
    from smartlib_server.services.personalization.cli_commands import add_experiment_commands

    add_experiment_commands(sub, common, _settings)
    add_kb_commands(sub)  # `kb ...` and `artifact ...`: handlers take (settings, args)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        logs.configure(args.log_level, log_format_from_env())
        if hasattr(args, "handler"):
            return args.handler(Settings.from_env(), args)
        return args.func(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except SmartLibError as exc:  # a job refused with a reason the operator can act on
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
