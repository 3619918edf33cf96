"""`smartlib experiment ...`: create, stop, list and report experiments straight from the database.

The commands work without a running server (they use the same tables); a running server picks
up a create or stop within its experiment cache TTL (2 s).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable

from smartlib_core.domain import Approach
from smartlib_core.errors import SmartLibError
from smartlib_server.adapters.experiment_store import ExperimentStore
from smartlib_server.adapters.interaction_store import InteractionStore
from smartlib_server.adapters.sql import open_database
from smartlib_server.domain.personalization import RANKINGS, Arm, Experiment, ExperimentResults
from smartlib_server.services.personalization.experiments import ExperimentService


def parse_arm(text: str) -> Arm:
    """NAME:WEIGHT[:CF_WEIGHT:CONTENT_WEIGHT[:baseline|finetuned]][:readers|blend], e.g.
    "content:1:0:1" or "old:1:blend" (the ranking last: RecommendForUser's reader ranking or blend)."""
    parts = text.split(":")
    ranking = parts.pop() if len(parts) > 2 and parts[-1] in RANKINGS else ""
    if len(parts) not in (2, 4, 5):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME:WEIGHT[:CF:CONTENT[:APPROACH]]")
    try:
        weight = float(parts[1])
        cf, content = (float(parts[2]), float(parts[3])) if len(parts) >= 4 else (1.0, 0.5)
        approach = Approach(parts[4]) if len(parts) == 5 else None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return Arm(parts[0], weight, approach, cf, content, ranking)


def format_results(results: ExperimentResults) -> str:
    lines = [f"experiment {results.experiment.name} ({'running' if results.experiment.running else 'stopped'})"]
    lines.append(f"{'arm':<16}{'exposures':>10}{'clicks':>8}{'likes':>7}{'reads':>7}   {'CTR [95% CI]':<24}{'like rate [95% CI]'}")
    for arm in results.arms:
        ctr, like = arm.ctr, arm.like_rate
        lines.append(
            f"{arm.name:<16}{arm.exposures:>10}{arm.clicks:>8}{arm.likes:>7}{arm.reads:>7}   "
            f"{ctr.rate:6.2%} [{ctr.low:6.2%}, {ctr.high:6.2%}]  {like.rate:6.2%} [{like.low:6.2%}, {like.high:6.2%}]"
        )
    first, second = results.arms[0].name, results.arms[1].name
    lines.append(f"two-proportion z-test, {first} vs {second}: "
                 f"CTR p={results.ctr_p_value:.4g}, like rate p={results.like_rate_p_value:.4g}")
    return "\n".join(lines)


def _results_json(results: ExperimentResults) -> dict:
    return {
        "experiment": results.experiment.name,
        "running": results.experiment.running,
        "arms": [
            {"name": a.name, "exposures": a.exposures, "clicks": a.clicks, "likes": a.likes, "reads": a.reads,
             "ctr": a.ctr.__dict__, "like_rate": a.like_rate.__dict__}
            for a in results.arms
        ],
        "ctr_p_value": results.ctr_p_value,
        "like_rate_p_value": results.like_rate_p_value,
    }


def _when(ms: int | None) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ") if ms else "-"


def add_experiment_commands(sub, common: Callable[[argparse.ArgumentParser], None], settings_of: Callable) -> None:
    """Adds `experiment {create,stop,list,results}` to the `smartlib` parser.

    Args:
        sub: the top-level subparsers object.
        common: adds --home and --database-url to a parser.
        settings_of: argparse.Namespace -> Settings (the CLI's own `_settings`).
    """
    experiment = sub.add_parser("experiment", help="A/B experiments over RecommendForUser")
    actions = experiment.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="start an experiment (one runs at a time)")
    create.add_argument("name")
    create.add_argument("--arm", action="append", type=parse_arm, required=True,
                        help="NAME:WEIGHT[:CF_WEIGHT:CONTENT_WEIGHT[:baseline|finetuned]][:readers|blend]; give two or more")
    stop = actions.add_parser("stop", help="stop an experiment; its results stay readable")
    stop.add_argument("name")
    listing = actions.add_parser("list", help="experiments, newest first")
    results = actions.add_parser("results", help="per-arm CTR and like rate with 95%% intervals and a z-test")
    results.add_argument("name")
    results.add_argument("--json", action="store_true", help="print JSON instead of a table")
    for parser in (create, stop, listing, results):
        common(parser)
        parser.set_defaults(func=lambda args: _run(args, settings_of(args)))


def _run(args: argparse.Namespace, settings) -> int:
    db = open_database(settings.database_url, settings.sqlite_path)
    try:
        service = ExperimentService(ExperimentStore(db, InteractionStore(db)))
        if args.action == "create":
            created = service.create(Experiment(args.name, tuple(args.arm)))
            print(f"started {created.name}: " + ", ".join(f"{a.name} (weight {a.weight:g})" for a in created.arms))
        elif args.action == "stop":
            stopped = service.stop(args.name)
            print(f"stopped {stopped.name} at {_when(stopped.stopped_at_ms)}")
        elif args.action == "list":
            for e in service.list():
                arms = ", ".join(f"{a.name}:{a.weight:g}" for a in e.arms)
                state = "running" if e.running else "stopped"
                print(f"{e.name:<24}{state:<9}{_when(e.created_at_ms):<22}{_when(e.stopped_at_ms):<22}{arms}")
        else:
            report = service.results(args.name)
            print(json.dumps(_results_json(report)) if args.json else format_results(report))
        return 0
    except SmartLibError as exc:
        violations = getattr(exc, "violations", {})
        print(f"error: {exc.message}", file=sys.stderr)
        for field, problem in violations.items():
            print(f"  {field}: {problem}", file=sys.stderr)
        return 2
    finally:
        db.close()
