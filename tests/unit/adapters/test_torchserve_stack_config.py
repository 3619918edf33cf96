"""The committed TorchServe configuration and the launcher's checks, without starting TorchServe."""
import ipaddress
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest

from smartlib_server.adapters import torchserve_stack as stack

REPO = Path(__file__).resolve().parents[3]
COMMITTED = stack.read_properties(REPO / stack.DEFAULT_CONFIG)


def test_committed_config_is_locked_down():
    for key in stack.ADDRESS_KEYS:
        assert ipaddress.ip_address(urlparse(COMMITTED[key]).hostname).is_loopback, key
    for address_key, _ in stack.GRPC_KEYS:
        assert ipaddress.ip_address(COMMITTED[address_key]).is_loopback, address_key
    assert COMMITTED["enable_model_api"] == "false"
    assert COMMITTED["install_py_dep_per_model"] == "false"
    assert COMMITTED["metrics_mode"] == "prometheus"
    assert COMMITTED["decode_input_request"] == "false"
    assert COMMITTED["disable_token_authorization"] == "true"  # decision documented in the file
    assert "-Xmx" in COMMITTED["vmargs"]
    assert re.fullmatch(COMMITTED["allowed_urls"], "file:///srv/model_store/x.mar")
    assert not re.fullmatch(COMMITTED["allowed_urls"], "https://example.com/x.mar")


def test_effective_config_narrows_allowed_urls_and_applies_ports(tmp_path):
    store = tmp_path / "torchserve" / "v1"
    props = stack.effective_config(COMMITTED, store, ["a.mar"], stack.Ports(inference=1, grpc_inference=2))
    assert props["inference_address"] == "http://127.0.0.1:1"
    assert props["grpc_inference_port"] == "2"
    assert props["management_address"] == COMMITTED["management_address"]
    assert props["load_models"] == "a.mar" and props["model_store"] == str(store)
    assert re.fullmatch(props["allowed_urls"], f"file://{store}/a.mar")
    assert not re.fullmatch(props["allowed_urls"], f"file://{tmp_path}/other/a.mar")
    assert not re.fullmatch(props["allowed_urls"], f"file://{store}/../../x.mar")


@pytest.mark.parametrize(
    "override",
    [
        {"inference_address": "http://0.0.0.0:8080"},
        {"metrics_address": "http://10.1.2.3:8082"},
        {"grpc_inference_address": "0.0.0.0"},
        {"grpc_management_address": "example.com"},
        {"enable_model_api": "true"},
    ],
)
def test_effective_config_refuses_anything_but_loopback_and_a_disabled_model_api(tmp_path, override):
    with pytest.raises(stack.StackError, match="refusing to start"):
        stack.effective_config(COMMITTED | override, tmp_path, ["a.mar"], stack.Ports())


def test_start_refuses_a_tampered_archive_before_launching(tmp_path):
    folder = tmp_path / "torchserve" / "v1"
    folder.mkdir(parents=True)
    (folder / "smartlib_encoder.mar").write_bytes(b"tampered")
    (folder / "archives.json").write_text(
        '{"archives": {"smartlib_encoder": {"file": "smartlib_encoder.mar", "sha256": "00"}}}'
    )
    with pytest.raises(stack.StackError, match="does not match"):
        stack.start(tmp_path, "v1", run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / stack.STATE_FILE).exists()


def test_stop_without_a_running_stack_is_a_no_op(tmp_path):
    assert stack.stop(tmp_path / "never-started") is False
