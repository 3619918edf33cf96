"""Regenerates inference_pb2*.py from inference.proto: `python -m smartlib_server.adapters.torchserve_pb`."""
from __future__ import annotations

import sys
from pathlib import Path

from google.rpc import status_pb2
from grpc_tools import protoc

HERE = Path(__file__).resolve().parent
SERVER_ROOT = HERE.parents[2]  # the import root that holds smartlib_server/


def generate(out_root: Path = SERVER_ROOT) -> int:
    """Writes the stubs under out_root/smartlib_server/adapters/torchserve_pb/; returns protoc's status."""
    google_protos = Path(status_pb2.__file__).parents[2]  # googleapis-common-protos ships status.proto
    bundled = Path(protoc.__file__).parent / "_proto"  # google/protobuf/*.proto
    return protoc.main([
        "protoc", f"-I{SERVER_ROOT}", f"-I{google_protos}", f"-I{bundled}",
        f"--python_out={out_root}", f"--pyi_out={out_root}", f"--grpc_python_out={out_root}",
        str(HERE.relative_to(SERVER_ROOT) / "inference.proto"),
    ])


if __name__ == "__main__":
    sys.exit(generate())
