import time

import pytest

from ndif_serve.model import LoadedModel, ModelLoadError, device_map, memory_fraction, pick_device
from ndif_serve.settings import ModelSettings


@pytest.mark.parametrize(
    "wrapper", ["nnsight.modeling.language.LanguageModel", "transformers.AutoModelForCausalLM"]
)
def test_a_local_model_loads_through_either_wrapper_and_generates(tiny_model, wrapper):
    settings = ModelSettings.from_args(
        {"repo_id": tiny_model, "wrapper": wrapper, "dtype": "float32"}
    )
    model = LoadedModel.load(settings, gpu_ids=[])

    info = model.info()
    assert info["model_key"] == settings.key
    assert info["parameters"] == sum(p.numel() for p in model.module.parameters())
    assert info["parameters"] > 10_000
    assert info["dtype"] == "float32"
    assert info["device"] == "cpu"
    assert info["memory_bytes"] >= info["parameters"] * 4

    first = model.generate("Ray Serve runs", 4)
    assert first.new_tokens == 4
    assert first.prompt_tokens > 0
    assert model.generate("Ray Serve runs", 4) == first  # greedy decoding is repeatable


def test_the_dtype_is_the_one_asked_for(tiny_model):
    model = LoadedModel.load(ModelSettings.from_args({"repo_id": tiny_model}), gpu_ids=[])
    assert model.info()["dtype"] == "bfloat16"


def test_gpus_without_cuda_fall_back_to_the_cpu():
    import torch

    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert pick_device(["0"]) == expected
    assert pick_device([]) == "cpu"


@pytest.mark.parametrize(
    "args, cause",
    [
        ({"repo_id": "/nonexistent/model"}, "OSError"),
        ({"repo_id": "a/b", "wrapper": "nosuchpackage.Model"}, "cannot import the wrapper module"),
        ({"repo_id": "a/b", "wrapper": "transformers.NoSuchModel"}, "has no class 'NoSuchModel'"),
        ({"repo_id": "a/b", "wrapper": "collections.OrderedDict"}, "neither an nnsight class"),
    ],
)
def test_a_failed_load_names_the_model_and_the_cause(args, cause):
    settings = ModelSettings.from_args(args)
    with pytest.raises(ModelLoadError) as e:
        LoadedModel.load(settings, gpu_ids=[])
    assert str(e.value).startswith(f"failed to load model {settings.key}: ")
    assert cause in str(e.value)


@pytest.mark.parametrize(
    "device, gpus, expected", [("cpu", 0, "cpu"), ("cuda", 1, "cuda"), ("cuda", 4, "auto")]
)
def test_several_gpus_share_the_weights(device, gpus, expected):
    assert device_map(device, gpus) == expected


@pytest.mark.parametrize("assigned, expected", [(0.25, 0.25), (0.0, None), (1.0, None), (2.0, None)])
def test_a_fraction_of_a_gpu_caps_its_memory(assigned, expected):
    assert memory_fraction(assigned) == expected


def test_generation_stops_at_the_first_token_past_its_deadline(tiny_model):
    model = LoadedModel.load(
        ModelSettings.from_args({"repo_id": tiny_model, "dtype": "float32"}), gpu_ids=[]
    )
    assert model.generate("Ray", 20, deadline=time.monotonic() + 600).new_tokens > 1
    assert model.generate("Ray", 20, deadline=time.monotonic()).new_tokens == 1
