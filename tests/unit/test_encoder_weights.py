"""A FINETUNED encoder's weights read as numpy (smartlib_core.encoder_weights): the same hash as
the torch module's state, so a warm compiled cache is found without torch; the same vectors
through the module made from them; a file that does not fit the architecture refused."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from smartlib_core import runtime
from smartlib_core.encoder_model import LAYER_DIMS, BookEncoder, load_weights, save_weights
from smartlib_core.encoder_weights import EncoderWeights, read_weights


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(11)
    directory = tmp_path_factory.mktemp("encoder")
    model = BookEncoder(block_weights=(1, 2, 1, 3, 1, 1, 0.5)).eval()
    return save_weights(model, directory), model


def _torch_digest(model: BookEncoder) -> str:
    """The hash runtime keyed the compiled cache with before the weights were read as numpy."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}\0{array.dtype}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def test_the_digest_is_the_torch_state_hash(saved):
    path, model = saved
    weights = read_weights(path)
    assert weights.digest == _torch_digest(model) == runtime.weights_digest(model)
    assert runtime.weights_digest(weights) == weights.digest  # one key, from either form
    changed = EncoderWeights({**weights.state, "skip.weight": weights.state["skip.weight"] * 2})
    assert changed.digest != weights.digest


def test_the_module_made_from_the_weights_encodes_as_the_saved_one(saved):
    path, model = saved
    weights = read_weights(path)
    vectors = np.random.default_rng(2).standard_normal((16, 2688)).astype(np.float32)
    np.testing.assert_array_equal(weights.encode_numpy(vectors), model.encode_numpy(vectors))
    np.testing.assert_array_equal(weights.module().encode_numpy(vectors), load_weights(path).encode_numpy(vectors))
    assert weights.module() is weights.module()  # built once
    assert runtime.compiled_encoder("torch", None, weights) is weights.module()  # torch serves the module itself


def test_weights_of_another_shape_or_names_are_refused(tmp_path):
    narrow = tmp_path / "narrow"
    narrow.mkdir()
    path = save_weights(BookEncoder(layer_dims=(*LAYER_DIMS[:-1], 128)), narrow)
    with pytest.raises(ValueError, match=r"size mismatch for \S+: the file holds \(128, .*needs \(256, "):
        read_weights(path)
    from safetensors.numpy import save_file

    state = dict(read_weights(save_weights(BookEncoder(), tmp_path)).state)
    del state["skip.weight"]
    save_file(state, str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="missing \\['skip.weight'\\]"):
        read_weights(tmp_path / "missing.safetensors")
    (tmp_path / "torn.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ValueError):
        read_weights(tmp_path / "torn.safetensors")
