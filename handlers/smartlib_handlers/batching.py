"""Helpers both handlers use (through smartlib_handlers.base): the start every initialize()
shares, and turning a TorchServe batch into per-request results.

TorchServe's dynamic batching hands a handler a list with one entry per client request. One bad
request must not fail the others, so each is parsed on its own and answered with its own status.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from smartlib_core.torchserve_payload import INPUT_KEY, WireError, error_response

log = logging.getLogger(__name__)
T = TypeVar("T")


def start(handler: Any, context: Any) -> tuple[dict, str]:
    """What both handlers' initialize() begin with: keep the context, serve on CPU with the
    configured torch threads. Returns the handler options from model-config.yaml and the model dir."""
    import torch  # here, so that the batch helpers below stay importable without torch

    handler.context = context
    handler.manifest = context.manifest
    handler.device = torch.device("cpu")
    options = (getattr(context, "model_yaml_config", None) or {}).get("handler", {})
    torch.set_num_threads(int(options.get("torch_threads", torch.get_num_threads())))
    return options, context.system_properties.get("model_dir")


def request_bytes(row: Any) -> bytes:
    """The payload of one batch entry: gRPC puts it under the input key, REST under "body"."""
    value = row.get(INPUT_KEY) if isinstance(row, dict) else None
    if value is None and isinstance(row, dict):
        value = row.get("body")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):  # TorchServe already decoded a JSON body
        return json.dumps(value).encode("utf-8")
    raise WireError(f"request has no {INPUT_KEY!r} input")


def parse_batch(data: list, parse: Callable[[bytes], T]) -> tuple[dict[int, T], dict[int, str]]:
    """-> (parsed requests by batch index, error messages by batch index)."""
    parsed: dict[int, T] = {}
    errors: dict[int, str] = {}
    for idx, row in enumerate(data):
        try:
            parsed[idx] = parse(request_bytes(row))
        except WireError as exc:
            errors[idx] = str(exc)
    return parsed, errors


def respond(context: Any, size: int, outputs: dict[int, bytes], errors: dict[int, str]) -> list[bytes]:
    """One response per request, in batch order; refused requests get an error response (and a
400 status, which TorchServe's REST API passes on and its gRPC API drops)."""
    responses = []
    for idx in range(size):
        if idx in outputs:
            responses.append(outputs[idx])
        else:
            message = errors.get(idx, "no result")
            log.info("refused request %d of the batch: %s", idx, message)
            context.set_response_status(400, message, idx)
            responses.append(error_response(message))
    return responses


def handler_runtime(options: dict, model_dir: str) -> tuple[str, str, int]:
    """(runtime, export cache, threads) for a handler: the model config's `handler:` options
    first, then SMARTLIB_RUNTIME and SMARTLIB_HOME as the server reads them; exports are cached
    beside the model when no home is set."""
    import os

    from smartlib_core.runtime import PREFERRED_RUNTIME

    name = str(options.get("runtime") or os.environ.get("SMARTLIB_RUNTIME") or PREFERRED_RUNTIME)
    home = os.environ.get("SMARTLIB_HOME")
    cache = str(options.get("compiled_dir") or (os.path.join(home, "compiled") if home else os.path.join(model_dir, "compiled")))
    return name, cache, int(options.get("runtime_threads", 1))
