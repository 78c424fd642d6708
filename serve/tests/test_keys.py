"""Model keys: the table the operator's Java keys are checked against is what nnsight 0.8.1's own
to_model_key() returns, and the gateway's comparison treats the client's spellings alike."""

import json
from pathlib import Path

import pytest

from ndif_serve import keys

CASES = json.loads((Path(__file__).parent / "fixtures" / "model_keys.json").read_text())["cases"]


def _client_wrapper(spec, tiny_model):
    """The wrapper a researcher builds for this spec; the tiny model's directory stands in for the
    Hub repo, and nnsight's Hub canonicalisation cache maps it to the spec's repo id."""
    from nnsight.modeling import huggingface
    from nnsight.modeling.language import LanguageModel
    from nnsight.modeling.transformers import TransformersModel
    from transformers import AutoTokenizer

    huggingface._ID_CACHE[tiny_model] = spec["repoId"]
    kwargs = {"tokenizer": AutoTokenizer.from_pretrained(tiny_model)}
    if "revision" in spec:
        kwargs["revision"] = spec["revision"]
    if "trustRemoteCode" in spec:
        kwargs["trust_remote_code"] = spec["trustRemoteCode"]
    wrapper = spec.get("wrapper", keys.LANGUAGE_MODEL)
    if wrapper == keys.LANGUAGE_MODEL:
        return LanguageModel(tiny_model, **kwargs)
    return TransformersModel(tiny_model, task=spec["task"], **kwargs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["key"].split(":", 1)[1])
def test_the_key_table_is_what_nnsight_writes(case, tiny_model):
    from nnsight.modeling import huggingface

    try:
        assert _client_wrapper(case["spec"], tiny_model).to_model_key() == case["key"]
    finally:
        huggingface._ID_CACHE.pop(tiny_model, None)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["key"].split(":", 1)[1])
def test_the_serve_side_writes_the_same_keys(case):
    spec = case["spec"]
    key = keys.model_key(
        spec.get("wrapper", keys.LANGUAGE_MODEL),
        spec["repoId"],
        spec.get("revision"),
        spec.get("trustRemoteCode", False),
        spec.get("task"),
    )
    assert key == case["key"]


def test_spellings_of_one_model_compare_equal():
    canonical = keys.model_key(keys.TRANSFORMERS_MODEL, "org/m")
    for spelling in [
        'nnsight.modeling.transformers.TransformersModel:{"repo_id": "org/m", "revision": "main",'
        ' "task": "text-generation"}',
        'nnsight.modeling.language.LanguageModel:{"repo_id": "org/m"}',
        'nnsight.modeling.language.LanguageModel:{"repo_id": "org/m", "revision": "main"}',
        'nnsight.modeling.transformers.TransformersModel:{"task": "text-generation",'
        ' "repo_id": "org/m", "trust_remote_code": false}',
    ]:
        assert keys.normalize(spelling) == keys.normalize(canonical), spelling


def test_different_models_stay_different():
    base = keys.normalize(keys.model_key(keys.TRANSFORMERS_MODEL, "org/m"))
    for other in [
        keys.model_key(keys.TRANSFORMERS_MODEL, "org/m", revision="v2"),
        keys.model_key(keys.TRANSFORMERS_MODEL, "org/m", trust_remote_code=True),
        keys.model_key(keys.TRANSFORMERS_MODEL, "org/m", task="text-classification"),
        keys.model_key(keys.TRANSFORMERS_MODEL, "org/other"),
        "not a key",
    ]:
        assert keys.normalize(other) != base, other


def test_describe_reads_what_status_shows():
    described = keys.describe(keys.model_key(keys.LANGUAGE_MODEL, "org/m", "v1", True))
    assert described == {
        "repo_id": "org/m",
        "revision": "v1",
        "task": "text-generation",
        "trust_remote_code": True,
    }
