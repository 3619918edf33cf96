"""Every SMARTLIB_* name in the tree is in the registry (smartlib_server/variables.py)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

from smartlib_server.config import registry
from smartlib_server.variables import SERVER

REPO = Path(__file__).resolve().parents[2]
# A name, unless it is a prefix written with a wildcard ("SMARTLIB_TLS_*"), checked separately.
NAME = re.compile(rb"SMARTLIB_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_]*\*)")
PREFIX = re.compile(rb"(SMARTLIB_[A-Z0-9_]*)\*")
# test_config.py spells this one wrong on purpose, to check that the server refuses it.
DELIBERATELY_UNKNOWN = {"SMARTLIB_GRPC_PROT"}


def _tree_files() -> list[Path]:
    """Tracked and not-ignored untracked files: what a clone (or a pending commit) holds."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout
    return [REPO / name for name in out.decode().split("\0") if name]


def test_every_smartlib_name_in_the_tree_is_registered():
    known = set(registry())
    seen: dict[str, str] = {}
    prefixes: dict[str, str] = {}
    for path in _tree_files():
        if not path.is_file():
            continue  # deleted in the work tree
        text = path.read_bytes()
        for match in NAME.findall(text):
            seen.setdefault(match.decode(), str(path.relative_to(REPO)))
        for prefix in PREFIX.findall(text):
            if prefix != b"SMARTLIB_":  # "every SMARTLIB_* variable"
                prefixes.setdefault(prefix.decode(), str(path.relative_to(REPO)))
    assert len(seen) > 20, "the grep found too few names to be looking at the tree"
    missing = {name: where for name, where in seen.items() if name not in known and name not in DELIBERATELY_UNKNOWN}
    assert missing == {}, f"add these to smartlib_server/variables.py (name: first file): {missing}"
    unmatched = {p: where for p, where in prefixes.items() if not any(name.startswith(p) for name in known)}
    assert unmatched == {}, f"these wildcards match no registered variable: {unmatched}"


def test_every_server_setting_is_registered_for_the_server():
    import dataclasses

    from smartlib_server.config import Settings

    server = {name for name, v in registry().items() if SERVER in v.components}
    assert server == {f"SMARTLIB_{f.name.upper()}" for f in dataclasses.fields(Settings)}
