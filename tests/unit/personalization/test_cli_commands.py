"""`smartlib experiment ...` against a real SQLite database."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from smartlib_core.domain import Approach
from smartlib_server.config import Settings
from smartlib_server.services.personalization.cli_commands import add_experiment_commands, parse_arm


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="smartlib")
    sub = parser.add_subparsers(dest="command", required=True)
    add_experiment_commands(sub, lambda p: p.add_argument("--home"), lambda args: Settings(home=Path(args.home)))
    args = parser.parse_args(argv)
    return args.func(args)


def test_create_list_results_stop(tmp_path, capsys):
    home = ["--home", str(tmp_path)]
    assert _main(["experiment", "create", "exp1", "--arm", "a:1", "--arm", "b:3:0:1:baseline", *home]) == 0
    assert "started exp1: a (weight 1), b (weight 3)" in capsys.readouterr().out
    assert _main(["experiment", "list", *home]) == 0
    assert "exp1" in capsys.readouterr().out
    assert _main(["experiment", "results", "exp1", "--json", *home]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in report["arms"]] == ["a", "b"] and report["arms"][0]["exposures"] == 0
    assert _main(["experiment", "results", "exp1", *home]) == 0
    assert "two-proportion z-test, a vs b" in capsys.readouterr().out
    assert _main(["experiment", "stop", "exp1", *home]) == 0
    assert _main(["experiment", "create", "bad", "--arm", "a:0", "--arm", "b:1", *home]) == 2
    assert "experiment.arms[0].weight" in capsys.readouterr().err


def test_arm_syntax():
    assert parse_arm("content:2:0:1:finetuned").approach is Approach.FINETUNED
    assert (parse_arm("x:1").cf_weight, parse_arm("x:1").content_weight) == (1.0, 0.5)
    assert (parse_arm("old:1:blend").ranking, parse_arm("new:1:0:1:finetuned:readers").ranking) == ("blend", "readers")
    assert parse_arm("x:1").ranking == ""
    with pytest.raises(argparse.ArgumentTypeError):
        parse_arm("x:1:2")
