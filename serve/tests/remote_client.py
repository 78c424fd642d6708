"""What a researcher's side looks like in the tests: nnsight's own client wrapper of the tiny model
(its weights on the meta device, as on a laptop that cannot host the model) and a loaded copy to
compare remote results with."""

from __future__ import annotations

import functools

from ndif_serve import keys


@functools.lru_cache(maxsize=None)
def client_model(directory: str):
    from nnsight.modeling.language import LanguageModel
    from transformers import AutoTokenizer

    return LanguageModel(directory, tokenizer=AutoTokenizer.from_pretrained(directory))


@functools.lru_cache(maxsize=None)
def local_model(directory: str):
    from nnsight.modeling.language import LanguageModel
    from transformers import AutoTokenizer

    return LanguageModel(
        directory,
        tokenizer=AutoTokenizer.from_pretrained(directory),
        dispatch=True,
        dtype="float32",
    )


def key_of(directory: str) -> str:
    return keys.model_key(keys.LANGUAGE_MODEL, directory)


class Capture:
    """An nnsight backend that serializes the trace exactly as RemoteBackend does and keeps the
    payload instead of sending it."""

    def __init__(self, compress: bool = True):
        self.compress = compress
        self.payload: bytes | None = None

    def __call__(self, tracer) -> None:
        from nnsight.ndif import pull_env
        from nnsight.schema.request import RequestModel

        pull_env()
        self.payload = RequestModel.serialize(tracer, self.compress)


def finalize(blob: bytes, compress: bool = True) -> dict:
    """What the client's RemoteBackend.finalize does with a result blob."""
    import io

    import torch
    import zstandard

    if compress:
        blob = zstandard.ZstdDecompressor().decompress(blob)
    return torch.load(io.BytesIO(blob), map_location="cpu", weights_only=False)


def wait_until_served(url, key, timeout=120):
    """Returns once the gateway at ``url`` lists ``key`` as RUNNING."""
    import httpx
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url + "/status", timeout=5).json()
            if any(
                d.get("model_key") == key and d.get("application_state") == "RUNNING"
                for d in status.get("deployments", {}).values()
            ):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.5)
    raise AssertionError(f"{key} was not served by the gateway within {timeout} s")
