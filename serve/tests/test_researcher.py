"""What a researcher writes, run as a researcher runs it: a fresh Python process with nnsight 0.8.1
from PyPI, NDIF_HOST and NDIF_API_KEY set, and `LanguageModel("org/model")` with no weights and
no tokenizer passed. The model is served under its repository id from a Hugging Face cache the
replicas read offline; the client's HF_ENDPOINT is a loopback stand-in that answers only the
Hub's model-info route (nnsight asks it to canonicalize the id), so the client reads the config
and tokenizer from its own cache, as after a download."""

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from remote_client import local_model
from test_gateway import _wait_until_served

API_KEY = "researcher-key-4242424242"
PROMPT = "The Eiffel Tower is in"


@pytest.fixture(scope="module")
def ndif_host(serve_url, hub_model, tmp_path_factory):
    from ray import serve

    from ndif_serve import keys
    from ndif_serve.app import build, build_gateway

    repo_id, _, _ = hub_model
    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys_file.write_text(f"keys:\n- {{key: {API_KEY}, name: grace@example.org}}\n")
    model_key = keys.model_key(keys.LANGUAGE_MODEL, repo_id)
    serve.run(
        build({"model_key": model_key, "repo_id": repo_id, "dtype": "float32"}),
        name="tiny-by-id",
        route_prefix="/models/tiny-by-id",
    )
    serve.run(
        build_gateway({"keys_file": str(keys_file), "catalog_refresh_seconds": 1}),
        name="ndif-gateway",
        route_prefix="/",
    )
    _wait_until_served(serve_url, model_key)
    yield serve_url
    serve.delete("ndif-gateway")
    serve.delete("tiny-by-id")


def run_as_researcher(code: str, ndif_host: str, hub_endpoint: str, tmp_path) -> dict:
    """Runs `code` in a new interpreter with the environment a researcher sets; the code writes
    what it saved to `out` (a path it is given), read back here."""
    out = tmp_path / "out.pt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "NNSIGHT_"))}
    env.pop("HF_HUB_OFFLINE", None)
    env.update(
        NDIF_HOST=ndif_host,
        NDIF_API_KEY=API_KEY,
        HF_ENDPOINT=hub_endpoint,
        OUT=str(out),
    )
    script = tmp_path / "research.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return torch.load(out, weights_only=False)


def test_a_trace_written_as_a_researcher_writes_it(ndif_host, hub_model, tmp_path):
    repo_id, hub_endpoint, snapshot = hub_model
    saved = run_as_researcher(
        f"""
        import os, torch
        from nnsight import LanguageModel

        model = LanguageModel("{repo_id}")
        with model.trace("{PROMPT}", remote=True):
            h = model.transformer.h[0].output.save()
        torch.save({{"h": h, "tokenizer": type(model.tokenizer).__name__}}, os.environ["OUT"])
        """,
        ndif_host,
        hub_endpoint,
        tmp_path,
    )
    local = local_model(snapshot)
    with local.trace(PROMPT):
        expected = local.transformer.h[0].output.save()
    assert torch.allclose(saved["h"], expected, atol=1e-6)
    assert saved["tokenizer"] != "NoneType"


def test_generate_and_a_session_written_as_a_researcher_writes_them(
    ndif_host, hub_model, tmp_path
):
    repo_id, hub_endpoint, snapshot = hub_model
    saved = run_as_researcher(
        f"""
        import os, torch
        from nnsight import LanguageModel

        model = LanguageModel("{repo_id}")
        with model.generate("{PROMPT}", max_new_tokens=3, remote=True):
            tokens = model.generator.output.save()
        with model.session(remote=True):
            with model.trace("{PROMPT}"):
                first = model.transformer.h[0].output.save()
            with model.trace("{PROMPT}"):
                model.transformer.h[0].output[:] = 0
                zeroed = model.lm_head.output.save()
        torch.save({{"tokens": tokens, "first": first, "zeroed": zeroed}}, os.environ["OUT"])
        """,
        ndif_host,
        hub_endpoint,
        tmp_path,
    )
    assert saved["tokens"].shape[-1] == len(_tokens(snapshot)) + 3
    local = local_model(snapshot)
    with local.trace(PROMPT):
        first = local.transformer.h[0].output.save()
    assert torch.allclose(saved["first"], first, atol=1e-6)
    with local.trace(PROMPT):
        local.transformer.h[0].output[:] = 0
        zeroed = local.lm_head.output.save()
    assert torch.allclose(saved["zeroed"], zeroed, atol=1e-6)


def test_the_stand_in_knows_only_cached_ids_and_only_model_info(hub_model):
    import httpx

    repo_id, hub_endpoint, snapshot = hub_model
    info = httpx.get(f"{hub_endpoint}/api/models/{repo_id}").json()
    assert info["id"] == repo_id
    assert info["safetensors"]["total"] > 0
    unknown = httpx.get(f"{hub_endpoint}/api/models/org/unknown")
    assert unknown.status_code == 404
    assert unknown.headers["X-Error-Code"] == "RepoNotFound"
    assert httpx.head(f"{hub_endpoint}/{repo_id}/resolve/main/config.json").status_code == 501


def _tokens(snapshot: str) -> list[int]:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(snapshot)(PROMPT)["input_ids"]

