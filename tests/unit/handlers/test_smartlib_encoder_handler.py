import numpy as np
import pytest
import torch

pytest.importorskip("ts", reason="TorchServe (torchserve==0.12.0) is not installed")

from smartlib_core import torchserve_payload as wire  # noqa: E402
from smartlib_core.encoder_model import BookEncoder, save_weights  # noqa: E402
from smartlib_handlers.smartlib_encoder_handler import SmartLibEncoderHandler  # noqa: E402


@pytest.fixture
def tiny_encoder(tmp_path):
    torch.manual_seed(7)
    model = BookEncoder()
    save_weights(model, tmp_path)
    return model.eval()


@pytest.fixture
def handler(tmp_path, tiny_encoder, make_context):
    context = make_context(tmp_path, {"model": {"modelName": "smartlib_encoder", "serializedFile": "encoder.safetensors"}})
    h = SmartLibEncoderHandler()
    h.initialize(context)
    return h, context


def test_batch_matches_in_process_encoder_and_isolates_a_bad_request(handler, tiny_encoder):
    h, context = handler
    rng = np.random.default_rng(3)
    one, three = rng.standard_normal((1, 2688), dtype=np.float32), rng.standard_normal((3, 2688), dtype=np.float32)
    batch = [
        {"data": bytearray(wire.vectors_to_bytes(one))},
        {"data": b"\x00" * 10},  # not whole rows
        {"body": wire.vectors_to_bytes(three)},  # the REST spelling
    ]
    out = h.handle(batch, context)
    assert len(out) == 3
    np.testing.assert_allclose(wire.parse_response(out[0], 256), tiny_encoder.encode_numpy(one), atol=1e-5)
    np.testing.assert_allclose(wire.parse_response(out[2], 256), tiny_encoder.encode_numpy(three), atol=1e-5)
    with pytest.raises(wire.RemoteError, match="whole number"):
        wire.parse_response(out[1], 256)
    assert context.statuses == {1: (400, context.statuses[1][1])}


def test_missing_input_is_refused(handler):
    h, context = handler
    out = h.handle([{"other": b"x"}], context)
    with pytest.raises(wire.RemoteError, match="no 'data' input"):
        wire.parse_response(out[0], 256)


def test_refuses_weights_that_are_not_safetensors(tmp_path, tiny_encoder, make_context):
    context = make_context(tmp_path, {"model": {"serializedFile": "encoder.pt"}})
    with pytest.raises(RuntimeError, match="only safetensors"):
        SmartLibEncoderHandler().initialize(context)
