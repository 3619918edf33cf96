"""Floors inside the server: api -> services -> adapters -> domain -> core, never upward.

Read from the real import graph (tests/unit/import_graph.py): imports inside functions count,
and the gRPC rule follows chains, so a service that imports a helper that imports grpc fails.
Each rule is also run once on a small synthetic package that breaks it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit import import_graph

REPO = Path(__file__).resolve().parents[2]
SERVER = "smartlib_server"

# Floors, highest first. A module may import its own floor and any floor below it.
ENTRY, API, WIRING, SERVICES, ADAPTERS, DOMAIN, BASE = 6, 5, 4, 3, 2, 1, 0
FLOOR_NAMES = {ENTRY: "entry point", API: "api", WIRING: "wiring (app.py)", SERVICES: "services",
               ADAPTERS: "adapters", DOMAIN: "domain", BASE: "base (config, deadlines, metrics)"}
BY_PREFIX = [  # (dotted prefix under smartlib_server, floor); the longest prefix wins
    ("__main__", ENTRY), ("cli", ENTRY), ("background", ENTRY),
    ("api", API), ("server", API),
    ("app", WIRING),
    ("services", SERVICES),
    ("adapters", ADAPTERS), ("artifacts", ADAPTERS), ("csv_source", ADAPTERS),
    ("domain", DOMAIN),
    ("config", BASE), ("variables", BASE), ("deadlines", BASE), ("metrics", BASE), ("", BASE),
]
# Who may reach the gRPC runtime, directly or through any chain of imports: the API, what stands
# above it, and the TorchServe client, whose wire to TorchServe is gRPC (not smartlib.v1).
GRPC_ALLOWED = {ENTRY, API, WIRING}
GRPC_CLIENT_ADAPTERS = ("adapters.torchserve_inference",)
GRPC_NAMES = ("grpc", "grpc_health", "grpc_reflection", "grpc_status", "google.rpc", "smartlib.v1")
MINIMUM_FILES = {API: 10, SERVICES: 40, ADAPTERS: 15, DOMAIN: 2}  # so a wrong path cannot pass
# Circles allowed on the runtime graph: none (the chat's intent_model <-> link_tables went with the switch).
KNOWN_CIRCLES: set[tuple[str, ...]] = set()


def floor_of(module: str, package: str = SERVER) -> int | None:
    """The floor of a module of `package`; tools run as `python -m` (a `__main__`) stand on top."""
    rest = module.removeprefix(package).lstrip(".")
    if rest.split(".")[-1] == "__main__":
        return ENTRY
    matches = [(len(p), f) for p, f in BY_PREFIX if rest == p or rest.startswith(p + ".") or p == ""]
    return max(matches)[1] if matches else None


def _is_grpc(name: str) -> bool:
    return any(name == g or name.startswith(g + ".") for g in GRPC_NAMES)


def upward_imports(graph: dict[str, set[str]], package: str = SERVER) -> list[str]:
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(t for t in targets if t in graph):
            if floor_of(target, package) > floor_of(module, package):
                found.append(f"{module} ({FLOOR_NAMES[floor_of(module, package)]}) imports {target} "
                             f"({FLOOR_NAMES[floor_of(target, package)]})")
    return found


def grpc_reached(graph: dict[str, set[str]], package: str = SERVER) -> list[str]:
    found = []
    for module in sorted(graph):
        rest = module.removeprefix(package).lstrip(".")
        if floor_of(module, package) in GRPC_ALLOWED or rest.startswith(GRPC_CLIENT_ADAPTERS):
            continue
        chain = import_graph.reaches(graph, module, _is_grpc)
        if chain:
            found.append(" -> ".join(chain))
    return found


@pytest.fixture(scope="module")
def server_graph() -> dict[str, set[str]]:
    return import_graph.graph(import_graph.modules([REPO / "server"], [SERVER]))


def test_every_floor_was_scanned(server_graph):
    counts = {floor: sum(floor_of(m) == floor for m in server_graph) for floor in MINIMUM_FILES}
    assert all(counts[f] >= n for f, n in MINIMUM_FILES.items()), {FLOOR_NAMES[f]: n for f, n in counts.items()}


def test_every_module_stands_on_a_floor(server_graph):
    assert all(floor_of(m) is not None for m in server_graph)


def test_no_floor_imports_a_floor_above_it(server_graph):
    found = upward_imports(server_graph)
    assert not found, "imports pointing up a floor:\n" + "\n".join(found)


def test_grpc_stays_in_api_counting_every_chain(server_graph):
    """services, adapters (but the TorchServe client), domain and the base never reach grpc or
    smartlib.v1, not even through a helper: domain errors carry core's codes and api/ maps them."""
    found = grpc_reached(server_graph)
    assert not found, "gRPC reached below api/:\n" + "\n".join(found)


def test_no_circles_on_the_runtime_graph():
    """No group of modules imports each other, across every package. Imports under
    `if TYPE_CHECKING:` never run and are left out; imports inside functions count."""
    roots = [REPO / r for r in ("core", "server", "training", "handlers", "bench", "clients")]
    packages = ["smartlib_core", SERVER, "smartlib_training", "smartlib_handlers", "smartlib_bench", "smartlib_client"]
    files = import_graph.modules(roots, packages)
    assert len(files) > 150, len(files)
    found = {tuple(c) for c in import_graph.cycles(import_graph.graph(files, runtime_only=True))}
    assert found <= KNOWN_CIRCLES, f"new circles: {sorted(found - KNOWN_CIRCLES)}"
    assert found == KNOWN_CIRCLES, f"gone, take them off KNOWN_CIRCLES: {sorted(KNOWN_CIRCLES - found)}"


# The same rules on a synthetic package, each broken once, so a walker that stopped seeing an
# import (one inside a function, one through a helper) would fail here.


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, set[str]]:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        for parent in path.relative_to(tmp_path).parents:
            if parent.parts:
                (tmp_path / parent / "__init__.py").touch()
    return import_graph.graph(import_graph.modules([tmp_path], ["pkg"]))


def test_the_walker_sees_an_import_inside_a_function_and_follows_it_to_grpc(tmp_path):
    graph = _package(tmp_path, {
        "services/search.py": "def run():\n    from pkg.helpers import retry\n    return retry\n",
        "helpers.py": "def retry():\n    import grpc\n    return grpc\n",
        "api/servicer.py": "import grpc\nfrom pkg.services import search\n",
    })
    assert grpc_reached(graph, "pkg") == ["pkg.helpers -> grpc", "pkg.services.search -> pkg.helpers -> grpc"]


def test_an_adapter_calling_up_into_a_service_is_caught(tmp_path):
    graph = _package(tmp_path, {
        "services/records.py": "RECORD = 1\n",
        "adapters/store.py": "def save():\n    from pkg.services.records import RECORD\n    return RECORD\n",
        "domain/types.py": "from ..adapters import store\n",  # a relative import, resolved
    })
    found = upward_imports(graph, "pkg")
    assert [line.split(" imports ")[0] for line in found] == ["pkg.adapters.store (adapters)", "pkg.domain.types (domain)"]


def test_a_circle_through_a_function_level_import_is_caught(tmp_path):
    graph = _package(tmp_path, {
        "config.py": "from pkg.variables import NAMES\n",
        "variables.py": "def registry():\n    from pkg.config import RULES\n    return RULES\n",
        "typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.config import RULES\n",
    })
    assert import_graph.cycles(graph) == [["pkg.config", "pkg.variables"]]
    typed = _package(tmp_path / "t", {"a.py": "import pkg.b\n", "b.py": "from typing import TYPE_CHECKING\n"
                                      "if TYPE_CHECKING:\n    import pkg.a\n"})
    assert import_graph.cycles(typed) == [["pkg.a", "pkg.b"]]
    files = import_graph.modules([tmp_path / "t"], ["pkg"])
    assert import_graph.cycles(import_graph.graph(files, runtime_only=True)) == []
