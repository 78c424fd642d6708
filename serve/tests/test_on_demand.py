"""Models deployed on demand, the gateway's half, on a real Ray Serve with nnsight 0.8.1's client:
a job for an allowed model that nothing serves waits in PROVISIONING, says what the operator
reports, and runs once the model is deployed; a key that is not allowed, or a model that is not
deployed in time, ends with a sentence. The test plays the operator: it reads the demand with the
operator's token and deploys the model itself."""

import time

import httpx
import pytest
import torch

from remote_client import client_model, local_model
import test_drain
from test_gateway import _wait_until_served

API_KEY = "on-demand-key-0123456789"
TOKEN = "operator-token-0123456789abcdef"
MAX_WAIT = 20


@pytest.fixture(scope="module")
def gateway(serve_url, hub_model, tmp_path_factory):
    from ray import serve

    from ndif_serve.app import build_gateway

    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys_file.write_text(f"keys:\n- {{key: {API_KEY}, name: od@example.org}}\n")
    serve.run(
        build_gateway(
            {
                "keys_file": str(keys_file),
                "catalog_refresh_seconds": 5,
                "on_demand": {
                    "models": ["ndif-local/*", "org/exact-model"],
                    "max_wait_seconds": MAX_WAIT,
                    "token": TOKEN,
                },
            }
        ),
        name="ndif-gateway",
        route_prefix="/",
    )
    yield serve_url
    serve.delete("ndif-gateway")


def poll(gateway, job_id):
    return test_drain.poll(gateway, job_id, API_KEY)


def wait_for(gateway, job_id, statuses, timeout=120):
    return test_drain.wait_for(gateway, job_id, statuses, timeout, API_KEY)


def demand(gateway, states=None, token=TOKEN):
    return httpx.post(
        f"{gateway}/operator/demand",
        json={"states": states or {}},
        headers={"ndif-operator-token": token},
        timeout=10,
    )


def submit(gateway, snapshot, model_key):
    from nnsight.intervention.backends.remote import RemoteBackend

    model = client_model(snapshot)
    remote = RemoteBackend(
        model_key=model_key,
        host=gateway,
        api_key=API_KEY,
        blocking=False,
        env=model._remoteable_get_env(),
    )
    with model.trace("On demand", backend=remote):
        out = model.transformer.h[0].output.save()  # noqa: F841
    return remote


def key_for(repo_id):
    from ndif_serve import keys

    return keys.model_key(keys.LANGUAGE_MODEL, repo_id)


def test_an_allowed_model_is_waited_for_and_runs_once_deployed(gateway, hub_model):
    from ray import serve

    from ndif_serve.app import build

    repo_id, _, snapshot = hub_model
    key = key_for(repo_id)
    job = submit(gateway, snapshot, key)
    first = wait_for(gateway, job.job_id, {"PROVISIONING"})
    assert first["description"] == (
        f"The model {key} is not deployed here; it is being deployed on demand. Your job runs"
        f" when it is up (it waits up to {MAX_WAIT} s)."
    )
    report = demand(gateway).json()
    assert list(report["waiting"]) == [key.replace("language.LanguageModel", "transformers.TransformersModel")]
    assert report["waiting"][next(iter(report["waiting"]))]["jobs"] == 1

    demand(gateway, {key: {"phase": "Pending", "message": "needs 1 x 4Gi GPU in pool local"}})
    deadline = time.monotonic() + 10
    while "needs 1 x 4Gi" not in poll(gateway, job.job_id)["description"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)

    # As the operator does: the application is put in Serve's config; nothing waits for it.
    import threading

    deploying = threading.Thread(
        target=serve.run,
        args=(build({"model_key": key, "repo_id": repo_id, "dtype": "float32"}),),
        kwargs={"name": "on-demand-tiny", "route_prefix": "/models/on-demand-tiny"},
    )
    deploying.start()
    try:
        ended = wait_for(gateway, job.job_id, {"COMPLETED", "ERROR"}, timeout=120)
        assert ended["status"] == "COMPLETED", ended
        local = local_model(snapshot)
        with local.trace("On demand"):
            expected = local.transformer.h[0].output.save()
        assert torch.allclose(job.poll()["out"], expected, atol=1e-6)
        report = demand(gateway).json()
        assert report["waiting"] == {}
        assert report["active"] == {}
        assert time.time() - max(report["used"].values()) < 60
    finally:
        deploying.join(120)
        serve.delete("on-demand-tiny")


def test_a_model_that_is_not_allowed_ends_at_once(gateway, hub_model):
    _, _, snapshot = hub_model
    key = key_for("elsewhere/unlisted")
    job = submit(gateway, snapshot, key)
    ended = wait_for(gateway, job.job_id, {"ERROR", "PROVISIONING"})
    assert ended["status"] == "ERROR"
    assert ended["description"] == (
        f"The model {key} is not served here, and this cluster deploys on demand only models"
        " matching ndif-local/*, org/exact-model."
    )
    assert demand(gateway).json()["waiting"] == {}


def test_a_model_that_is_not_deployed_in_time_ends_with_the_placement_reason(gateway, hub_model):
    _, _, snapshot = hub_model
    key = key_for("org/exact-model")
    job = submit(gateway, snapshot, key)
    wait_for(gateway, job.job_id, {"PROVISIONING"})
    demand(
        gateway,
        {key: {"phase": "Pending", "message": "needs 8 x 80Gi GPUs in pool a100; 0 free of 8"}},
    )
    ended = wait_for(gateway, job.job_id, {"ERROR", "COMPLETED"}, timeout=MAX_WAIT + 30)
    assert ended["status"] == "ERROR"
    assert ended["description"] == (
        f"The model {key} could not be deployed on demand within {MAX_WAIT} s. Needs 8 x 80Gi"
        " GPUs in pool a100; 0 free of 8."
    )


def test_only_the_operator_reads_the_demand(gateway):
    assert demand(gateway, token="someone-else-0123456789").status_code == 403
    assert demand(gateway, token="").status_code == 403


@pytest.mark.parametrize(
    "pattern, repo_id, expected",
    [
        ("ndif-local/*", "ndif-local/tiny-gpt2", True),
        ("ndif-local/*", "ndif-local/deep/er", False),
        ("ndif-local/*", "ndif-localx/tiny", False),
        ("org/llama-3.?-8b", "org/llama-3.1-8b", True),
        ("org/llama-3.?-8b", "org/llama-3.10-8b", False),
        ("org/exact-7b", "org/exact-7bb", False),
        ("*/*", "any/model", True),
    ],
)
def test_patterns_match_as_the_operator_matches(pattern, repo_id, expected):
    from ndif_serve.ondemand import matches

    assert matches(pattern, repo_id) is expected
