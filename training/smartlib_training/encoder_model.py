"""The encoder model now lives in smartlib_core (the server and the handlers load it too); this
name stays for training's existing imports."""
from smartlib_core.encoder_model import (
    BLOCK_COUNT,
    INPUT_DIM,
    LAYER_DIMS,
    OUTPUT_DIM,
    WEIGHTS_FILE,
    BookEncoder,
    block_scale,
    load_weights,
    save_weights,
)

__all__ = ["BLOCK_COUNT", "INPUT_DIM", "LAYER_DIMS", "OUTPUT_DIM", "WEIGHTS_FILE", "BookEncoder", "block_scale",
           "load_weights", "save_weights"]
