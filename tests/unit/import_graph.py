"""The project's real import graph, read from the source: every import statement counts, those
inside functions and `if TYPE_CHECKING:` blocks too, and relative imports are resolved.

Used by the import tests; it reads files and never imports them.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

SKIPPED_FOLDERS = {"__pycache__", "torchserve_pb"}  # torchserve_pb: code generated from TorchServe's protos


def module_name(path: Path, root: Path) -> str:
    """`server/smartlib_server/api/wire.py` under root `server/` -> `smartlib_server.api.wire`."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def statements(path: Path, name: str = "", runtime_only: bool = False) -> list[tuple[str, tuple[str, ...]]]:
    """(module, names) for every import in `path`'s body, relative ones resolved against `name`
    (the file's module); names is () for `import module`. `runtime_only` leaves out the bodies of
    `if TYPE_CHECKING:`, which never run."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, ()) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((module, tuple(alias.name for alias in node.names)))
        elif runtime_only and isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def imports(path: Path, name: str = "") -> set[str]:
    """Every absolute name `path` imports anywhere in its body; `from a import b` gives `a` and `a.b`."""
    found = set()
    for module, names in statements(path, name):
        found.add(module)
        found.update(f"{module}.{n}" for n in names)
    return found


def modules(roots: Iterable[Path], packages: Iterable[str]) -> dict[str, Path]:
    """Module name -> file, for every Python file of `packages` (top-level names) under `roots`."""
    out = {}
    for root in roots:
        for package in packages:
            for path in (root / package).rglob("*.py"):
                if not SKIPPED_FOLDERS & set(path.parts):
                    out[module_name(path, root)] = path
    return out


def graph(files: dict[str, Path], runtime_only: bool = False) -> dict[str, set[str]]:
    """Module -> what it imports: the modules among `files` by name, anything else as written.

    `from package import module` is an edge to the module alone. Python runs the package's
    __init__ first, but counting that would make every package that imports its own parts a circle.
    """
    out = {}
    for name, path in files.items():
        targets = set()
        for module, names in statements(path, name, runtime_only):
            submodules = {f"{module}.{n}" for n in names} & files.keys()
            targets |= submodules if submodules and len(submodules) == len(names) else {module} | submodules
        out[name] = targets - {name}
    return out


def reaches(graph: dict[str, set[str]], start: str, wanted) -> list[str] | None:
    """The first import chain from `start` to a name for which `wanted(name)` holds, or None."""
    seen, stack = {start}, [[start]]
    while stack:
        chain = stack.pop()
        for target in sorted(graph.get(chain[-1], ())):
            if wanted(target):
                return chain + [target]
            if target in graph and target not in seen:
                seen.add(target)
                stack.append(chain + [target])
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:  # recursion depth is bounded by the module count (a few hundred)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in graph:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
