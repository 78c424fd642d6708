"""Drain before evicting, on a real Ray Serve with nnsight 0.8.1's client: a model application
removed from Serve (as the operator removes a preempted, scaled-down or deleted deployment) lets
its replica finish the running job within its graceful-shutdown time, and the jobs queued for it
at the gateway wait for it to come back instead of failing; what cannot be finished or started
ends with one stable sentence."""

import time

import httpx
import pytest
import torch

from remote_client import client_model, key_of, local_model
from test_gateway import _wait_until_served

API_KEY = "drain-key-0123456789"
MAX_WAIT = 30
GRACE = 30


@pytest.fixture(scope="module")
def gateway(serve_url, tiny_model, tmp_path_factory):
    from ray import serve

    from ndif_serve.app import build_gateway

    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys_file.write_text(f"keys:\n- {{key: {API_KEY}, name: drain@example.org}}\n")
    serve.run(
        build_gateway(
            {
                "keys_file": str(keys_file),
                "catalog_refresh_seconds": 1,
                "max_wait_seconds": MAX_WAIT,
                "drain_grace_seconds": GRACE,
            }
        ),
        name="ndif-gateway",
        route_prefix="/",
    )
    yield serve_url
    serve.delete("ndif-gateway")


@pytest.fixture
def model_dir(tiny_model, tmp_path):
    """The tiny model under a path of its own: a model key no other test serves."""
    link = tmp_path / "model"
    link.symlink_to(tiny_model)
    return str(link)


def deploy(directory: str, name: str, key: str, grace: float) -> None:
    """A model application as the operator writes it: one job at a time, a graceful shutdown."""
    from ray import serve

    from ndif_serve.app import ModelDeployment
    from ndif_serve.settings import ModelSettings

    settings = ModelSettings.from_args({"model_key": key, "repo_id": directory, "dtype": "float32"})
    serve.run(
        ModelDeployment.options(
            max_ongoing_requests=1,
            graceful_shutdown_timeout_s=grace,
            graceful_shutdown_wait_loop_s=1,
        ).bind(settings),
        name=name,
        route_prefix=f"/models/{name}",
    )


def remove(name: str) -> None:
    """What a preemption does to the Serve application: it is taken out of Serve's config."""
    from ray import serve

    serve.delete(name, _blocking=False)


def submit(gateway, tiny_model, key, seconds: float):
    """A non-blocking job whose block spins for `seconds` on the replica, then saves a value."""
    from nnsight.intervention.backends.remote import RemoteBackend

    model = client_model(tiny_model)
    remote = RemoteBackend(
        model_key=key,
        host=gateway,
        api_key=API_KEY,
        blocking=False,
        env=model._remoteable_get_env(),
    )
    with model.trace("Drain", backend=remote):
        import time as clock

        end = clock.monotonic() + seconds
        while clock.monotonic() < end:
            pass
        out = model.transformer.h[0].output.save()  # noqa: F841
    return remote


def poll(gateway, job_id, api_key=API_KEY) -> dict:
    return httpx.get(
        f"{gateway}/response/{job_id}", headers={"ndif-api-key": api_key}, timeout=10
    ).json()


def wait_for(gateway, job_id, statuses, timeout=120, api_key=API_KEY) -> dict:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = poll(gateway, job_id, api_key)
        if seen["status"] in statuses:
            return seen
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {statuses}: last {seen}")


def expected_hidden(tiny_model):
    local = local_model(tiny_model)
    with local.trace("Drain"):
        h = local.transformer.h[0].output.save()
    return h


def test_a_running_job_finishes_and_a_queued_one_waits_for_readmission(gateway, tiny_model, model_dir):
    key = key_of(model_dir)
    deploy(model_dir, "drain-a", key, GRACE)
    _wait_until_served(gateway, key)
    running = submit(gateway, tiny_model, key, 6)
    wait_for(gateway, running.job_id, {"RUNNING"})
    queued = submit(gateway, tiny_model, key, 0)
    assert wait_for(gateway, queued.job_id, {"QUEUED"})["status"] == "QUEUED"

    remove("drain-a")
    # The replica takes no new work but finishes the job it runs.
    assert wait_for(gateway, running.job_id, {"COMPLETED", "ERROR"})["status"] == "COMPLETED"
    result = running.poll()
    assert torch.allclose(result["out"], expected_hidden(tiny_model), atol=1e-6)
    # The queued job did not fail: it says why it waits.
    waiting = wait_for(gateway, queued.job_id, {"QUEUED"})
    deadline = time.monotonic() + 30
    while "has no replica now" not in waiting["description"] and time.monotonic() < deadline:
        time.sleep(0.2)
        waiting = poll(gateway, queued.job_id)
    assert waiting["status"] == "QUEUED", waiting
    assert waiting["description"] == (
        f"The model {key} has no replica now (it was preempted, scaled down or removed); your"
        f" job waits for another replica or for the model to come back, up to {MAX_WAIT} s."
    )

    # Admitted again: the queued job runs on the new replica.
    deploy(model_dir, "drain-a", key, GRACE)
    try:
        ended = wait_for(gateway, queued.job_id, {"COMPLETED", "ERROR"})
        assert ended["status"] == "COMPLETED", ended
    finally:
        remove("drain-a")


def test_a_queued_job_whose_model_does_not_come_back_ends_with_a_sentence(gateway, tiny_model, model_dir):
    key = key_of(model_dir)
    deploy(model_dir, "drain-b", key, GRACE)
    _wait_until_served(gateway, key)
    running = submit(gateway, tiny_model, key, 3)
    wait_for(gateway, running.job_id, {"RUNNING"})
    queued = submit(gateway, tiny_model, key, 0)
    wait_for(gateway, queued.job_id, {"QUEUED"})
    remove("drain-b")
    ended = wait_for(gateway, queued.job_id, {"COMPLETED", "ERROR"}, timeout=MAX_WAIT + 60)
    assert ended["status"] == "ERROR"
    assert ended["description"] == (
        f"The model {key} did not come back within {MAX_WAIT} s after it was preempted, scaled"
        " down or removed; your job did not start. Send it again later."
    )
    assert wait_for(gateway, running.job_id, {"COMPLETED", "ERROR"})["status"] == "COMPLETED"


def test_a_job_that_outlasts_the_grace_period_ends_with_a_sentence(gateway, tiny_model, model_dir):
    key = key_of(model_dir)
    deploy(model_dir, "drain-c", key, 2)
    _wait_until_served(gateway, key)
    running = submit(gateway, tiny_model, key, 60)
    wait_for(gateway, running.job_id, {"RUNNING"})
    remove("drain-c")
    ended = wait_for(gateway, running.job_id, {"COMPLETED", "ERROR"}, timeout=60)
    assert ended["status"] == "ERROR"
    assert ended["description"] == (
        f"Your job was stopped: the replica of {key} running it was removed (preempted, scaled"
        f" down or deleted) and the job did not finish within the cluster's drain grace period"
        f" of {GRACE} s."
    )
