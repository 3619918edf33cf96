"""Dependencies point one way: core at the bottom; server, training and handlers on top of it,
never importing each other. Every import counts, those inside functions too.

Any edge between the wings, or any import of a wing from core, fails here. The server reaches
training's subcommands through the `smartlib.commands` entry point, which is not an import.
The floors inside the server, and where gRPC may be reached, are in test_server_floors.py.
"""
from __future__ import annotations

from pathlib import Path

from tests.unit import import_graph

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

MINIMUM_FILES = {"core": 12, "server": 90, "training": 10, "handlers": 3}  # a wrong path must not pass


def _wing(path: Path, repo: Path) -> str:
    package = path.relative_to(repo).parts[1]
    return PACKAGES.get(package, "")


def scan(folders: dict[str, Path] = FOLDERS, repo: Path = REPO) -> tuple[set[tuple[str, str]], dict[str, int]]:
    """The imports that cross wings without being allowed, and how many files each wing had."""
    out, counts = set(), {}
    for name, folder in folders.items():
        counts[name] = 0
        for path in folder.rglob("*.py"):
            if import_graph.SKIPPED_FOLDERS & set(path.parts):
                continue
            counts[name] += 1
            wing = _wing(path, repo)
            for module in import_graph.imports(path, import_graph.module_name(path, folder)):
                target = PACKAGES.get(module.split(".")[0])
                if target and target != wing and (wing, target) not in ALLOWED:
                    out.add((path.relative_to(repo).as_posix(), module.split(".")[0]))
    return out, counts


def edges() -> set[tuple[str, str]]:
    return scan()[0]


def test_every_wing_was_scanned():
    counts = scan()[1]
    assert all(counts[wing] >= n for wing, n in MINIMUM_FILES.items()), counts


def test_an_import_inside_a_function_is_an_edge(tmp_path):
    """A synthetic core module that reaches the server only from inside a function is caught."""
    module = tmp_path / "core" / "smartlib_core" / "sneaky.py"
    module.parent.mkdir(parents=True)
    module.write_text("def later():\n    from smartlib_server.config import Settings\n    return Settings\n")
    found, counts = scan({"core": tmp_path / "core"}, tmp_path)
    assert counts == {"core": 1} and found == {("core/smartlib_core/sneaky.py", "smartlib_server")}


def test_core_imports_no_wing():
    offending = {(f, m) for f, m in edges() if f.startswith("core/")}
    assert not offending, offending


def test_the_wings_never_import_each_other():
    found = edges()
    assert not found, f"imports across wings (import smartlib_core instead): {sorted(found)}"


def test_bench_is_not_installed():
    import tomllib

    roots = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["where"]
    assert "bench" not in roots and not (REPO / "server" / "smartlib_bench").exists()
    assert not list((REPO / "handlers" / "smartlib_handlers").glob("*bench*.py"))


def test_handlers_hold_only_what_torchserve_loads():
    """The handler files (one class each), the base class they share and the helper module it
    imports; tools live elsewhere."""
    names = {p.name for p in (REPO / "handlers" / "smartlib_handlers").glob("*.py")}
    handlers = {n for n in names if n.startswith("smartlib_") and n.endswith("_handler.py")}
    assert handlers and names - handlers == {"__init__.py", "base.py", "batching.py"}, names
