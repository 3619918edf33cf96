"""Every servicer runs blocking work through api.blocking, which carries the call's deadline."""
from __future__ import annotations

import ast
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from smartlib_server import deadlines
from smartlib_server.api.blocking import Blocking

API = Path(__file__).resolve().parents[2] / "server" / "smartlib_server" / "api"


def test_the_worker_sees_the_callers_deadline():
    async def main():
        with ThreadPoolExecutor(1) as pool:
            runner = Blocking(pool)
            with deadlines.bound(5.0):
                left = await runner.run(deadlines.remaining)
            without = await runner.run(deadlines.remaining)
        return left, without

    left, without = asyncio.run(main())
    assert left is not None and 4.0 < left <= 5.0
    assert without is None


def test_work_whose_deadline_passed_in_the_queue_never_runs():
    ran = []

    async def main():
        with ThreadPoolExecutor(1) as pool:
            runner = Blocking(pool)
            busy = asyncio.ensure_future(runner.run(time.sleep, 0.5))
            await asyncio.sleep(0.05)  # the sleep now holds the only worker
            with deadlines.bound(0.1):
                with pytest.raises(deadlines.DeadlineExceeded):
                    await runner.run(ran.append, "late")
            await busy

    asyncio.run(main())
    assert ran == []


def test_no_servicer_hands_work_to_threads_any_other_way():
    offending = []
    for path in API.glob("*.py"):
        if path.name == "blocking.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("run_in_executor", "to_thread"):
                offending.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.ClassDef) and node.name.endswith("Blocking"):
                offending.append(f"{path.name}: its own {node.name}")
    assert not offending, offending
