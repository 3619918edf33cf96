"""manifest.json: what an artifact version contains and the sha256 of every file in it.

One module for every artifact kind (knowledge bases, encoder versions, TorchServe archives):
the server, training and the TorchServe stack verify with it and raise its one integrity error.
A version is a directory of files plus manifest.json. The manifest is written last, so a
directory (or bucket prefix) without one is an unfinished write and is never used. A manifest
may also carry `manifest_sha256`, a hash of its own other fields (encoder versions do), so an
edit to the manifest itself is caught too.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from smartlib_core import atomic
from smartlib_core.errors import FailedPrecondition, InvalidArgument

MANIFEST = "manifest.json"
KINDS = ("kb", "encoder", "mar")
FORMAT = 1
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ArtifactIntegrityError(FailedPrecondition):
    """An artifact's files do not match its manifest; it is refused, never used."""


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidArgument.field("kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    return kind


def check_version(version: str) -> str:
    # Versions become path components and object-name segments, so no separators or dots first.
    if not _VERSION_RE.match(version):
        raise InvalidArgument.field("version", f"{version!r}: use letters, digits, '.', '_' and '-' (max 128)")
    return version


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def seal(directory: Path, kind: str, version: str, **fields: Any) -> dict[str, Any]:
    """Hashes every file under `directory` and writes manifest.json last.

    Args:
        directory: the finished version; temporary (".tmp-") names are skipped.
        kind: one of KINDS.
        version: the version id, also the directory name once published.
        **fields: kind-specific entries (counts, embedder id, ...); `created_at` defaults to now.

    Returns:
        The manifest written.
    """
    check_kind(kind)
    check_version(version)
    files = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        rel = path.relative_to(directory).as_posix()
        if rel == MANIFEST or any(part.startswith(atomic.TEMP_PREFIX) for part in rel.split("/")):
            continue
        files[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    manifest = {"format": FORMAT, "kind": kind, "version": version, "created_at": utc_now(), **fields, "files": files}
    atomic.write_json(directory / MANIFEST, manifest)
    return manifest


def parse(raw: bytes, where: str) -> dict[str, Any]:
    """Parses and sanity-checks manifest bytes; `where` names the source in errors."""
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactIntegrityError(f"{where}: manifest.json is unreadable, not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), Mapping):
        raise ArtifactIntegrityError(f"{where}: manifest.json has no 'files' table")
    file_digests(manifest, where)  # validates every entry
    return manifest


def read(directory: Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ArtifactIntegrityError(f"{directory}: no manifest.json (an unfinished write?); {path} is missing") from None
    except OSError as exc:
        raise ArtifactIntegrityError(f"{path} is unreadable: {exc}") from None
    return parse(raw, str(directory))


def self_digest(manifest: Mapping[str, Any]) -> str:
    """The hash a manifest stores of its own other fields (`manifest_sha256`)."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def file_digests(manifest: Mapping[str, Any], where: str = "manifest") -> dict[str, str]:
    """Relative path -> sha256 for every file the manifest lists.

    Accepts `{"path": {"sha256": ...}}` and `{"path": "<sha256>"}`, so manifests written by
    training's packaging and by this package verify the same way.
    """
    digests = {}
    for rel, entry in manifest["files"].items():
        digest = entry.get("sha256") if isinstance(entry, Mapping) else entry
        if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ArtifactIntegrityError(f"{where}: {rel!r} has no valid sha256 in manifest.json")
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts or rel == MANIFEST:
            raise ArtifactIntegrityError(f"{where}: manifest.json lists an unsafe path {rel!r}")
        digests[rel] = digest
    return digests


def verify(directory: Path, manifest: Mapping[str, Any] | None = None, where: str = "") -> dict[str, Any]:
    """Checks that every listed file exists with its listed sha256.

    Args:
        where: names the artifact in errors; defaults to `directory`.

    Raises:
        ArtifactIntegrityError: naming the missing or mismatching files.
    """
    where = where or str(directory)
    manifest = read(directory) if manifest is None else manifest
    if "manifest_sha256" in manifest and manifest["manifest_sha256"] != self_digest(manifest):
        raise ArtifactIntegrityError(f"{where}: manifest.json was modified after it was written")
    problems = []
    for rel, expected in file_digests(manifest, where).items():
        path = directory / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif sha256_file(path) != expected:
            problems.append(f"{rel} does not match its sha256")
    if problems:
        raise ArtifactIntegrityError(f"{where}: {'; '.join(problems)}")
    return dict(manifest)


def check_identity(manifest: Mapping[str, Any], kind: str, version: str, where: str) -> None:
    """A manifest copied under the wrong name must not pass as another version.

    Manifests from other writers (training) may omit kind or version; those that are present
    must match.
    """
    found_kind, found_version = manifest.get("kind", kind), manifest.get("version", version)
    if (found_kind, found_version) != (kind, version):
        raise ArtifactIntegrityError(f"{where}: manifest.json describes {found_kind}/{found_version}, not {kind}/{version}")
