"""Dependencies point one way: core at the bottom; server, training and handlers on top of it,
never importing each other. Every import counts, those inside functions too.

Any edge between the wings, or any import of a wing from core, fails here. The server reaches
training's subcommands through the `smartlib.commands` entry point, which is not an import.
"""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = {  # import root -> the wing that owns it
    "smartlib_core": "core",
    "smartlib_server": "server",
    "smartlib_bench": "bench",
    "smartlib_training": "training",
    "smartlib_handlers": "handlers",
}
FOLDERS = {"core": REPO / "core", "server": REPO / "server", "training": REPO / "training", "handlers": REPO / "handlers"}
ALLOWED = {("server", "core"), ("training", "core"), ("handlers", "core"), ("bench", "core"), ("bench", "server"),
           ("bench", "training"), ("bench", "handlers")}

def _imports(path: Path) -> set[str]:
    """Absolute module names `path` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _wing(path: Path) -> str:
    package = path.relative_to(REPO).parts[1]
    return PACKAGES.get(package, "")


def edges() -> set[tuple[str, str]]:
    out = set()
    for folder in FOLDERS.values():
        for path in folder.rglob("*.py"):
            if "__pycache__" in path.parts or path.parent.name == "torchserve_pb":
                continue
            wing = _wing(path)
            for module in _imports(path):
                target = PACKAGES.get(module.split(".")[0])
                if target and target != wing and (wing, target) not in ALLOWED:
                    out.add((path.relative_to(REPO).as_posix(), module))
    return out


def test_core_imports_no_wing():
    offending = {(f, m) for f, m in edges() if f.startswith("core/")}
    assert not offending, offending


def test_the_wings_never_import_each_other():
    found = edges()
    assert not found, f"imports across wings (import smartlib_core instead): {sorted(found)}"


def test_services_import_no_grpc():
    """services/ is plain Python; only api/ speaks gRPC (the benchmarks that did live in bench/)."""
    offending = set()
    for path in (REPO / "server" / "smartlib_server" / "services").rglob("*.py"):
        for module in _imports(path):
            if module.split(".")[0] == "grpc" or module.startswith("smartlib.v1"):
                offending.add((path.relative_to(REPO).as_posix(), module))
    assert not offending, offending


def test_bench_is_not_installed():
    import tomllib

    roots = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["where"]
    assert "bench" not in roots and not (REPO / "server" / "smartlib_bench").exists()
    assert not list((REPO / "handlers" / "smartlib_handlers").glob("*bench*.py"))


def test_handlers_hold_only_what_torchserve_loads():
    """The handler files (one class each) and the helper module they import; tools live elsewhere."""
    names = {p.name for p in (REPO / "handlers" / "smartlib_handlers").glob("*.py")}
    handlers = {n for n in names if n.startswith("smartlib_") and n.endswith("_handler.py")}
    assert handlers and names - handlers == {"__init__.py", "batching.py"}, names
