#!/bin/sh
# Container entry for TorchServe: verify the archives of one version against their sha256
# manifest, then run TorchServe in the foreground as the container's main process.
# `python -m smartlib_server.adapters.torchserve_stack start` does the same checks on a host, but it refuses any
# non-loopback address, and inside a container TorchServe must listen on the container network.
set -eu
store="${SMARTLIB_MODEL_STORE:-/srv/model_store}"
archives="$(python - "$store" "${SMARTLIB_ENCODER_VERSION:-}" <<'PY'
import sys
from pathlib import Path

from smartlib_core.archives import ArchiveError, archive_dir, newest_version, verify_archives

store, version = Path(sys.argv[1]), sys.argv[2] or newest_version(Path(sys.argv[1]))
if not version:
    sys.exit(f"no archives under {store}/torchserve: run `smartlib export-mar` before building the image")
try:
    verify_archives(archive_dir(store, version))
except ArchiveError as exc:
    sys.exit(f"refusing to start: {exc}")
print(archive_dir(store, version))
PY
)"
exec torchserve --start --foreground --ncs --ts-config /srv/config.properties --model-store "$archives" --models all
