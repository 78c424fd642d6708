import pytest

from ndif_serve.app import build
from ndif_serve.settings import DEFAULT_WRAPPER, InvalidArguments, ModelSettings


def test_the_operators_arguments_are_accepted():
    settings = ModelSettings.from_args(
        {
            "model_key": 'nnsight.modeling.language.LanguageModel:{"repo_id": "gpt2"}',
            "repo_id": "openai-community/gpt2",
            "revision": "main",
            "wrapper": DEFAULT_WRAPPER,
            "dtype": "float16",
            "trust_remote_code": False,
            "execution_timeout_seconds": 60,
        }
    )
    assert settings.key == 'nnsight.modeling.language.LanguageModel:{"repo_id": "gpt2"}'
    assert settings.dtype == "float16"
    assert settings.execution_timeout_seconds == 60
    assert settings.uses_nnsight


def test_defaults_follow_ndif():
    settings = ModelSettings.from_args({"repo_id": "openai-community/gpt2"})
    assert settings.wrapper == DEFAULT_WRAPPER
    assert settings.dtype == "bfloat16"
    assert settings.trust_remote_code is False
    assert settings.execution_timeout_seconds is None
    assert settings.key == (
        'nnsight.modeling.transformers.TransformersModel:{"repo_id": "openai-community/gpt2",'
        ' "revision": null, "task": "text-generation"}'
    )


def test_a_transformers_wrapper_does_not_use_nnsight():
    settings = ModelSettings.from_args(
        {"repo_id": "x/y", "revision": "v1", "wrapper": "transformers.AutoModelForCausalLM"}
    )
    assert not settings.uses_nnsight
    assert settings.key == 'transformers.AutoModelForCausalLM:{"repo_id": "x/y", "revision": "v1"}'


@pytest.mark.parametrize(
    "args, message",
    [
        ({}, "repo_id: Field required"),
        ({"repo_id": ""}, "repo_id: String should have at least 1 character"),
        ({"repo_id": "a/b", "dtype": "int8"}, "dtype: Input should be 'bfloat16'"),
        ({"repo_id": "a/b", "execution_timeout_seconds": 0}, "execution_timeout_seconds"),
        ({"repo_id": "a/b", "wrapper": "LanguageModel"}, "wrapper: Value error, must be a dotted"),
        ({"repo_id": "a/b", "temperature": 0.5}, "temperature: Extra inputs are not permitted"),
        ({"repo_id": "a/b", "max_new_tokens_limit": 0}, "max_new_tokens_limit"),
        ({"repo_id": "a/b", "model_key": "gpt2"}, "model_key must be '<wrapper class path>:"),
    ],
)
def test_bad_arguments_name_the_field(args, message):
    with pytest.raises(InvalidArguments) as e:
        ModelSettings.from_args(args)
    assert message in str(e.value)
    assert str(e.value).startswith("invalid application arguments: ")


def test_the_builder_rejects_bad_arguments_before_any_replica_starts():
    with pytest.raises(InvalidArguments, match="repo_id"):
        build({"dtype": "float32"})


def test_the_builder_binds_the_model_deployment():
    app = build({"repo_id": "a/b"})
    assert type(app).__name__ == "Application"
