"""The artifact registry: versioned knowledge bases, encoders and .mar archives, local or on GCS.

Layout, identical in a folder and in a bucket: `<kind>/<version>/<files...>` plus
`<kind>/<version>/manifest.json`.

Crash safety comes from ordering, not from transactions the backends lack:
  * push verifies the local files against their manifest, uploads the files, and uploads the
    manifest last;
  * list and pull only see versions whose manifest exists, and pull re-verifies every file
    before it publishes the version locally.
So a push killed halfway leaves objects without a manifest, which nothing reads; pushing the
same version again overwrites them and completes it.
"""
from __future__ import annotations

import abc
import dataclasses
import logging
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from smartlib_core import atomic, manifest as mf
from smartlib_core.errors import AlreadyExists, NotFound, Unavailable
from smartlib_server.config import Settings

log = logging.getLogger(__name__)


class ArtifactNotFound(NotFound):
    pass


@dataclasses.dataclass(frozen=True)
class ArtifactInfo:
    kind: str
    version: str
    created_at: str
    files: int
    bytes: int

    @classmethod
    def of(cls, kind: str, version: str, manifest: Mapping[str, Any]) -> "ArtifactInfo":
        entries = manifest["files"].values()
        size = sum(int(e.get("bytes", 0)) for e in entries if isinstance(e, Mapping))
        return cls(kind, version, str(manifest.get("created_at", "")), len(manifest["files"]), size)


class ArtifactRegistry(Protocol):
    """Stores immutable artifact versions. Both implementations pass the same contract tests."""

    def push(self, kind: str, directory: Path) -> ArtifactInfo:
        """Uploads a sealed version directory; the version is its manifest's, else its name.

        Raises:
            ArtifactIntegrityError: a local file does not match the manifest; nothing is uploaded.
            AlreadyExists: the registry holds this version with different contents.
        """
        ...

    def pull(self, kind: str, version: str, dest_root: Path) -> Path:
        """Downloads and verifies a version into `dest_root/<version>`; returns that directory.

        Raises:
            ArtifactNotFound: no complete version by that name.
            ArtifactIntegrityError: a downloaded file does not match the manifest; nothing is kept.
        """
        ...

    def list_versions(self, kind: str) -> list[ArtifactInfo]:
        """Complete versions (manifest present), oldest first."""
        ...


class _ObjectRegistry(abc.ABC):
    """push/pull/list written once over the few object operations each backend supplies."""

    @abc.abstractmethod
    def _get_manifest(self, kind: str, version: str) -> bytes | None:
        """The manifest's bytes, or None when the version has none (absent or unfinished)."""

    @abc.abstractmethod
    def _upload(self, source: Path, key: str) -> None: ...

    @abc.abstractmethod
    def _upload_bytes(self, data: bytes, key: str) -> None: ...

    @abc.abstractmethod
    def _download(self, key: str, target: Path) -> None:
        """Raises ArtifactIntegrityError when the object is missing."""

    @abc.abstractmethod
    def _manifest_versions(self, kind: str) -> list[str]:
        """Versions of `kind` that have a manifest object."""

    @abc.abstractmethod
    def _where(self, kind: str, version: str) -> str:
        """A human-readable location for messages."""

    def push(self, kind: str, directory: Path) -> ArtifactInfo:
        directory = Path(directory)
        mf.check_kind(kind)
        try:
            raw = (directory / mf.MANIFEST).read_bytes()
        except FileNotFoundError:
            raise mf.ArtifactIntegrityError(f"{directory}: no manifest.json; seal the directory before pushing") from None
        manifest = mf.parse(raw, str(directory))
        version = mf.check_version(str(manifest.get("version", directory.name)))
        mf.check_identity(manifest, kind, version, str(directory))
        digests = mf.file_digests(mf.verify(directory, manifest))
        where = self._where(kind, version)
        existing = self._get_manifest(kind, version)
        if existing is not None:
            if mf.file_digests(mf.parse(existing, where)) == digests:
                return ArtifactInfo.of(kind, version, manifest)  # already there: pushes are idempotent
            raise AlreadyExists(f"{where} exists with different files; versions are immutable")
        for rel in digests:
            self._upload(directory / rel, f"{kind}/{version}/{rel}")
        self._upload_bytes(raw, f"{kind}/{version}/{mf.MANIFEST}")  # last: this publishes the version
        log.info("pushed %s (%d files)", where, len(digests))
        return ArtifactInfo.of(kind, version, manifest)

    def pull(self, kind: str, version: str, dest_root: Path) -> Path:
        mf.check_kind(kind)
        mf.check_version(version)
        where = self._where(kind, version)
        raw = self._get_manifest(kind, version)
        if raw is None:
            raise ArtifactNotFound(f"{where} does not exist or its push never finished")
        manifest = mf.parse(raw, where)
        mf.check_identity(manifest, kind, version, where)
        target = Path(dest_root) / version
        if target.exists():
            local = mf.verify(target)
            if mf.file_digests(local) != mf.file_digests(manifest):
                raise AlreadyExists(f"{target} exists with different files; remove it or pull into another folder")
            return target
        with atomic.staging_dir(Path(dest_root), version) as staged:
            for rel in mf.file_digests(manifest):
                with atomic.atomic_path(staged / rel) as temp:
                    self._download(f"{kind}/{version}/{rel}", temp)
            mf.verify(staged, manifest, where=f"{where} refused")
            atomic.write_bytes(staged / mf.MANIFEST, raw)
            atomic.publish_dir(staged, target)
        log.info("pulled %s into %s", where, target)
        return target

    def list_versions(self, kind: str) -> list[ArtifactInfo]:
        mf.check_kind(kind)
        found = []
        for version in self._manifest_versions(kind):
            raw = self._get_manifest(kind, version)
            if raw is None:
                continue
            try:
                parsed = mf.parse(raw, self._where(kind, version))
                mf.check_identity(parsed, kind, version, self._where(kind, version))
                found.append(ArtifactInfo.of(kind, version, parsed))
            except mf.ArtifactIntegrityError as exc:
                log.warning("skipping %s", exc.message)
        return sorted(found, key=lambda info: (info.created_at, info.version))


class LocalRegistry(_ObjectRegistry):
    """A folder, the default. Object keys are relative paths under `root`."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def _where(self, kind: str, version: str) -> str:
        return str(self.root / kind / version)

    def _get_manifest(self, kind: str, version: str) -> bytes | None:
        try:
            return (self.root / kind / version / mf.MANIFEST).read_bytes()
        except FileNotFoundError:
            return None

    def _upload(self, source: Path, key: str) -> None:
        atomic.copy_file(source, self.root / key)

    def _upload_bytes(self, data: bytes, key: str) -> None:
        atomic.write_bytes(self.root / key, data)

    def _download(self, key: str, target: Path) -> None:
        try:
            shutil.copyfile(self.root / key, target)
        except FileNotFoundError:
            raise mf.ArtifactIntegrityError(f"{self.root / key} is missing") from None

    def _manifest_versions(self, kind: str) -> list[str]:
        base = self.root / kind
        if not base.is_dir():
            return []
        return sorted(p.parent.name for p in base.glob(f"*/{mf.MANIFEST}") if not p.parent.name.startswith(atomic.TEMP_PREFIX))


class GcsRegistry(_ObjectRegistry):
    """A Google Cloud Storage bucket through google-cloud-storage.

    `endpoint` points the client at an emulator (anonymous credentials); empty uses Google's
    endpoint with application-default credentials. `prefix` nests everything under a folder.
    """

    def __init__(self, bucket: str, endpoint: str = "", prefix: str = "", client: Any = None):
        from google.cloud import storage

        if client is None:
            if endpoint:
                from google.auth.credentials import AnonymousCredentials

                client = storage.Client(
                    project="smartlib", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
                )
            else:
                client = storage.Client()
        self._bucket = client.bucket(bucket)
        self._client = client
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _where(self, kind: str, version: str) -> str:
        return f"gs://{self._bucket.name}/{self._prefix}{kind}/{version}"

    def _blob(self, key: str) -> Any:
        return self._bucket.blob(self._prefix + key)

    @contextmanager
    def _errors(self, key: str) -> Iterator[None]:
        """Turns client failures into domain errors that name the object."""
        from google.api_core import exceptions as gcs
        from google.cloud.storage.exceptions import DataCorruption
        from requests import RequestException

        where = f"gs://{self._bucket.name}/{self._prefix}{key}"
        try:
            yield
        except gcs.NotFound:
            raise mf.ArtifactIntegrityError(f"{where} is missing") from None
        except DataCorruption:  # the bytes received do not match the checksum GCS stored
            raise mf.ArtifactIntegrityError(f"{where} is corrupt in storage (checksum mismatch)") from None
        except (gcs.GoogleAPICallError, RequestException) as exc:
            raise Unavailable(f"artifact bucket unreachable at {where}: {exc.__class__.__name__}: {exc}") from exc

    def _get_manifest(self, kind: str, version: str) -> bytes | None:
        from google.api_core.exceptions import NotFound as GcsNotFound

        key = f"{kind}/{version}/{mf.MANIFEST}"
        with self._errors(key):
            try:
                return self._blob(key).download_as_bytes()
            except GcsNotFound:
                return None

    # Re-sending the same bytes to the same name is harmless (versions are immutable once their
    # manifest exists), so uploads retry on transient errors like the idempotent calls do.
    def _upload(self, source: Path, key: str) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        with self._errors(key):
            # crc32c: the client compares the checksum GCS computed of what it stored.
            self._blob(key).upload_from_filename(str(source), checksum="crc32c", retry=DEFAULT_RETRY)

    def _upload_bytes(self, data: bytes, key: str) -> None:
        from google.cloud.storage.retry import DEFAULT_RETRY

        with self._errors(key):
            self._blob(key).upload_from_string(
                data, content_type="application/json", checksum="crc32c", retry=DEFAULT_RETRY
            )

    def _download(self, key: str, target: Path) -> None:
        with self._errors(key):
            self._blob(key).download_to_filename(str(target))

    def _manifest_versions(self, kind: str) -> list[str]:
        base = f"{self._prefix}{kind}/"
        versions = set()
        with self._errors(f"{kind}/"):
            for blob in self._client.list_blobs(self._bucket, prefix=base, match_glob=f"{base}*/{mf.MANIFEST}"):
                parts = blob.name[len(base):].split("/")
                if len(parts) == 2 and parts[1] == mf.MANIFEST:
                    versions.add(parts[0])
        return sorted(versions)


def open_registry(settings: Settings) -> ArtifactRegistry:
    """GCS when SMARTLIB_GCS_BUCKET is set, else the folder `<home>/registry`."""
    if settings.gcs_bucket:
        return GcsRegistry(settings.gcs_bucket, settings.gcs_endpoint)
    return LocalRegistry(settings.home / "registry")
