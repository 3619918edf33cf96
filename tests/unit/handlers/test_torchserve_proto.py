"""The committed TorchServe inference.proto and its stubs match the installed TorchServe."""
import zipfile
from pathlib import Path

import pytest

from smartlib_server.adapters.torchserve_pb import __main__ as regenerate

STUBS = ("inference_pb2.py", "inference_pb2.pyi", "inference_pb2_grpc.py")


def _body(proto: str) -> str:
    """The proto without our header comment."""
    return proto[proto.index("syntax") :]


def test_proto_is_torchserves_own():
    ts = pytest.importorskip("ts", reason="TorchServe (torchserve==0.12.0) is not installed")
    jar = Path(ts.__file__).parent / "frontend" / "model-server.jar"
    with zipfile.ZipFile(jar) as archive:
        upstream = archive.read("proto/inference.proto").decode()
    assert _body((regenerate.HERE / "inference.proto").read_text()) == upstream


def test_committed_stubs_match_the_proto(tmp_path):
    assert regenerate.generate(tmp_path) == 0
    generated = tmp_path / "smartlib_server" / "adapters" / "torchserve_pb"
    for name in STUBS:
        assert (generated / name).read_text() == (regenerate.HERE / name).read_text(), f"{name} drifted; regenerate"
