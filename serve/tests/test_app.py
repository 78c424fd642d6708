"""The HTTP routes, served by a real (local, in-process) Ray Serve."""

import pytest
import requests


@pytest.fixture(scope="module", autouse=True)
def applications(serve_url, tiny_model):
    from ray import serve

    from ndif_serve.app import build

    serve.run(
        build(
            {
                "repo_id": tiny_model,
                "dtype": "float32",
                "execution_timeout_seconds": 30,
                "max_new_tokens_limit": 8,
            }
        ),
        name="tiny",
        route_prefix="/ns/tiny",
    )
    serve.run(
        build({"repo_id": tiny_model, "execution_timeout_seconds": 0.000001}),
        name="slow",
        route_prefix="/ns/slow",
    )
    yield
    serve.delete("tiny")
    serve.delete("slow")


def test_health_answers_once_loaded(serve_url):
    response = requests.get(serve_url + "/ns/tiny/healthz", timeout=30)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_info_describes_the_loaded_model(serve_url, tiny_model):
    info = requests.get(serve_url + "/ns/tiny/info", timeout=30).json()
    assert info["repo_id"] == tiny_model
    assert info["model_key"] == (
        'nnsight.modeling.transformers.TransformersModel:{"repo_id": "%s", "revision": null,'
        ' "task": "text-generation"}' % tiny_model
    )
    assert info["parameters"] > 10_000
    assert info["dtype"] == "float32"
    assert info["device"] == "cpu"
    assert info["memory_bytes"] > 0


def test_generate_returns_new_tokens(serve_url):
    response = requests.post(
        serve_url + "/ns/tiny/generate", json={"prompt": "Ray Serve", "max_new_tokens": 3}, timeout=30
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["new_tokens"] == 3
    assert body["prompt_tokens"] > 0
    assert isinstance(body["text"], str)


@pytest.mark.parametrize(
    "body, status, message",
    [
        ({}, 422, "prompt"),
        ({"prompt": ""}, 422, "at least 1 character"),
        ({"prompt": "hi", "max_new_tokens": 0}, 422, "greater than or equal to 1"),
        ({"prompt": "hi", "max_new_tokens": 9}, 400, "allows at most 8"),
    ],
)
def test_bad_requests_get_a_4xx_with_a_message(serve_url, body, status, message):
    response = requests.post(serve_url + "/ns/tiny/generate", json=body, timeout=30)
    assert response.status_code == status
    assert message in response.text


def test_a_request_over_the_execution_timeout_gets_504(serve_url):
    response = requests.post(
        serve_url + "/ns/slow/generate", json={"prompt": "Ray", "max_new_tokens": 64}, timeout=30
    )
    assert response.status_code == 504
    assert "execution timeout" in response.json()["detail"]
