"""`smartlib kb ...` and `smartlib artifact ...`: argparse builders and their handlers.

Each leaf parser sets `handler(settings, args) -> exit code`; domain errors (SmartLibError)
propagate for the top-level CLI to print.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from smartlib_core import manifest as mf
from smartlib_core.errors import FailedPrecondition
from smartlib_server.artifacts import export, knowledge_base as kb
from smartlib_server.artifacts.registry import ArtifactNotFound, LocalRegistry, open_registry
from smartlib_server.config import Settings

log = logging.getLogger(__name__)


# -- where each kind lives on this machine -------------------------------------------------
def kb_root(settings: Settings) -> Path:
    return settings.home / "kb"


def exports_dir(settings: Settings) -> Path:
    return settings.home / "exports"


def local_root(settings: Settings, kind: str) -> Path:
    """The folder holding `<version>/` directories of `kind`."""
    return {
        "kb": kb_root(settings),
        "encoder": settings.model_store / "encoder",
        "mar": settings.model_store / "torchserve",  # the layout training/mar_export.py writes
    }[mf.check_kind(kind)]


def add_kb_commands(subparsers: Any) -> None:
    """Adds `kb` and `artifact` to the top-level CLI's subparsers."""
    kb_parser = subparsers.add_parser("kb", help="build, list, push, pull, activate and roll back knowledge bases")
    sub = kb_parser.add_subparsers(dest="kb_command", required=True)

    p = sub.add_parser("build", help="snapshot the catalog, vectors and indexes as a new version")
    p.add_argument("--encoder", default="auto", help="encoder version for the 256-d part; 'auto' (default): "
                   "SMARTLIB_ENCODER_VERSION, else the newest; 'none': 2688-d only. Its files are verified before use")
    p.add_argument("--keep", type=int, default=kb.DEFAULT_KEEP, help="versions to keep (default %(default)s)")
    p.add_argument("--activate", action="store_true", help="activate the new version")
    p.set_defaults(handler=_build)

    p = sub.add_parser("list", help="list local versions (* marks the active one)")
    p.add_argument("--remote", action="store_true", help="list the registry instead")
    p.set_defaults(handler=_list)

    p = sub.add_parser("push", help="upload a version to the registry")
    p.add_argument("version", nargs="?", help="default: the active version")
    p.set_defaults(handler=_push)

    p = sub.add_parser("pull", help="download and verify a version from the registry")
    p.add_argument("version", help="a version id or 'latest'")
    p.add_argument("--activate", action="store_true", help="activate it after the pull")
    p.set_defaults(handler=_pull)

    p = sub.add_parser("activate", help="verify a version and make it the active one")
    p.add_argument("version")
    p.set_defaults(handler=_activate)

    p = sub.add_parser("rollback", help="re-activate the previously active version")
    p.set_defaults(handler=_rollback)

    p = sub.add_parser("export", help="export the catalog to CSV now, or every N seconds")
    p.add_argument("--out", type=Path, help="folder (default <home>/exports)")
    p.add_argument("--every", type=float, default=0.0, metavar="SECONDS", help="repeat until interrupted")
    p.add_argument("--keep", type=int, default=10, help="exports to keep (default %(default)s)")
    p.set_defaults(handler=_export)

    art = subparsers.add_parser("artifact", help="list, push and pull encoder versions, .mar archives and KBs")
    sub = art.add_subparsers(dest="artifact_command", required=True)
    for name, handler, needs_version in (("list", _artifact_list, False), ("push", _artifact_push, True),
                                         ("pull", _artifact_pull, True)):
        p = sub.add_parser(name, help=f"{name} artifacts in the registry")
        p.add_argument("kind", choices=mf.KINDS)
        if needs_version:
            p.add_argument("version", help="a version id" + (" or 'latest'" if name == "pull" else ""))
        p.set_defaults(handler=handler)


# -- kb handlers ----------------------------------------------------------------------------
def _build(settings: Settings, args: argparse.Namespace) -> int:
    from smartlib_core.embedding import EMBEDDER_ID
    from smartlib_server.adapters.catalog_store import open_store

    encoder = load_encoder(settings, args.encoder)
    store = open_store(settings.database_url, settings.sqlite_path)
    try:
        started = time.perf_counter()
        directory = kb.build_kb(store, EMBEDDER_ID, kb_root(settings), encoder=encoder, keep=args.keep)
    finally:
        store.close()
    print(f"built {directory.name} in {time.perf_counter() - started:.1f} s: {mf.read(directory)['counts']}")
    if args.activate:
        kb.activate(kb_root(settings), directory.name)
        print(f"activated {directory.name}")
    return 0


def _list(settings: Settings, args: argparse.Namespace) -> int:
    if args.remote:
        return _artifact_list(settings, argparse.Namespace(kind="kb"))
    infos = kb.list_kbs(kb_root(settings))
    if not infos:
        print(f"no knowledge bases in {kb_root(settings)}; run `smartlib kb build`")
    for info in infos:
        counts = " ".join(f"{k}={v}" for k, v in sorted(info.counts.items()))
        print(f"{'*' if info.active else ' '} {info.version}  {info.created_at}  encoder={info.encoder_version or '-'}  {counts}")
    return 0


def _push(settings: Settings, args: argparse.Namespace) -> int:
    version = args.version or kb.current_version(kb_root(settings))
    if not version:
        raise FailedPrecondition("no active knowledge base; name the version to push")
    return _artifact_push(settings, argparse.Namespace(kind="kb", version=version))


def _pull(settings: Settings, args: argparse.Namespace) -> int:
    version = _latest(settings, "kb") if args.version == "latest" else args.version
    _artifact_pull(settings, argparse.Namespace(kind="kb", version=version))
    if args.activate:
        kb.activate(kb_root(settings), version)
        print(f"activated {version}")
    return 0


def _activate(settings: Settings, args: argparse.Namespace) -> int:
    info = kb.activate(kb_root(settings), args.version)
    print(f"activated {info.version}")
    return 0


def _rollback(settings: Settings, args: argparse.Namespace) -> int:
    info = kb.rollback(kb_root(settings))
    print(f"rolled back to {info.version}")
    return 0


def _export(settings: Settings, args: argparse.Namespace) -> int:
    from smartlib_server.adapters.catalog_store import open_store

    out = args.out or exports_dir(settings)
    store = open_store(settings.database_url, settings.sqlite_path)
    try:
        print(f"exported {export.export_catalog_csv(store, out, args.keep)}")
        if args.every > 0:
            scheduler = export.scheduled_export(store, out, args.every, args.keep)
            print(f"exporting every {args.every:g} s into {out}; Ctrl-C stops")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                scheduler.stop()
    finally:
        store.close()
    return 0


# -- artifact handlers ----------------------------------------------------------------------
def _latest(settings: Settings, kind: str) -> str:
    infos = open_registry(settings).list_versions(kind)
    if not infos:
        raise ArtifactNotFound(f"the registry holds no {kind} versions")
    return infos[-1].version


def _artifact_list(settings: Settings, args: argparse.Namespace) -> int:
    infos = open_registry(settings).list_versions(args.kind)
    if not infos:
        print(f"the registry holds no {args.kind} versions")
    for info in infos:
        print(f"{info.version}  {info.created_at}  {info.files} files  {info.bytes} bytes")
    return 0


def _artifact_push(settings: Settings, args: argparse.Namespace) -> int:
    directory = local_root(settings, args.kind) / mf.check_version(args.version)
    if not directory.is_dir():
        raise FailedPrecondition(f"no {args.kind} version {args.version!r} in {directory.parent}")
    if args.kind == "mar":
        _seal_archives(directory)
    info = open_registry(settings).push(args.kind, directory)
    print(f"pushed {args.kind} {info.version}: {info.files} files, {info.bytes} bytes")
    return 0


def _artifact_pull(settings: Settings, args: argparse.Namespace) -> int:
    version = _latest(settings, args.kind) if args.version == "latest" else args.version
    directory = open_registry(settings).pull(args.kind, version, local_root(settings, args.kind))
    print(f"pulled {args.kind} {version} into {directory}")
    return 0


def _seal_archives(directory: Path) -> None:
    """A .mar folder carries archives.json from packaging: check it, then (re)write manifest.json.

    archives.json is the packaging step's record, so a manifest.json that is missing or older
    than a re-export is rebuilt from the files once they match archives.json.
    """
    from smartlib_core.archives import ArchiveError, verify_archives

    try:
        verify_archives(directory)
    except ArchiveError as exc:
        raise mf.ArtifactIntegrityError(str(exc)) from None
    try:
        mf.verify(directory)
    except mf.ArtifactIntegrityError:
        mf.seal(directory, "mar", directory.name)


# -- the FINETUNED encoder for `kb build` ---------------------------------------------------
def load_encoder(settings: Settings, choice: str) -> kb.VersionedEncoder | None:
    """Resolves --encoder: 'none', a version, or 'auto' (configured, else newest; None if none).

    The version's files are verified against its manifest before the weights load; a tampered
    newest version is refused rather than silently replaced by an older one.
    """
    if choice == "none":
        return None
    version = choice if choice != "auto" else settings.encoder_version
    root = local_root(settings, "encoder")
    if not version:
        candidates = LocalRegistry(settings.model_store).list_versions("encoder")
        if not candidates:
            log.info("no encoder versions in %s; building the 2688-d part only", root)
            return None
        version = candidates[-1].version
    directory = root / mf.check_version(version)
    if not directory.is_dir():
        raise FailedPrecondition(f"no encoder version {version!r} in {root}")
    mf.verify(directory)
    from smartlib_core.encoder_model import WEIGHTS_FILE, load_weights

    model = load_weights(directory / WEIGHTS_FILE)
    return kb.VersionedEncoder(version, model.encode_numpy)
