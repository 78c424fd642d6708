"""What a key holder's code can do through the gateway, tried as an attacker would with nnsight
0.8.1's own client: each attempt is refused with a sentence and the replica keeps serving; what a
block changes, the next caller does not see. The cluster's trust policy here is ``trusted``:
the key tagged trusted runs in the replica's process, every other key contained."""

import json
import os
import socket

import httpx
import pytest
import torch

from remote_client import client_model, key_of, local_model
from test_gateway import _wait_until_served

TRUSTED = "trusted-key-0123456789"
RESEARCHER = "researcher-key-0123456789"
OTHER = "other-key-9876543210"
QUEUED_LIMIT = 5


@pytest.fixture(scope="module")
def gateway(serve_url, tiny_model, tmp_path_factory):
    from ray import serve

    from ndif_serve.app import build, build_gateway

    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys_file.write_text(
        f"limits: {{default: {{queued: {QUEUED_LIMIT}}}, trusted: {{queued: 64, weight: 2}}}}\n"
        "keys:\n"
        f"- {{key: {TRUSTED}, name: owner@example.org, tags: [trusted]}}\n"
        f"- {{key: {RESEARCHER}, name: stranger@example.org}}\n"
        f"- {{key: {OTHER}, name: next@example.org}}\n"
    )
    serve.run(
        build(
            {
                "model_key": key_of(tiny_model),
                "repo_id": tiny_model,
                "dtype": "float32",
                "execution_timeout_seconds": 20,
                "in_process": "trusted",
            }
        ),
        name="held",
        route_prefix="/models/held",
    )
    serve.run(
        build_gateway(
            {"keys_file": str(keys_file), "catalog_refresh_seconds": 1, "in_process": "trusted"}
        ),
        name="ndif-gateway",
        route_prefix="/",
    )
    _wait_until_served(serve_url, key_of(tiny_model))
    yield {"url": serve_url, "keys_file": str(keys_file)}
    serve.delete("ndif-gateway")
    serve.delete("held")


def backend(gateway, tiny_model, api_key=RESEARCHER):
    from nnsight.intervention.backends.remote import RemoteBackend

    return RemoteBackend(
        model_key=key_of(tiny_model),
        host=gateway["url"],
        api_key=api_key,
        env=client_model(tiny_model)._remoteable_get_env(),
    )


def refused(gateway, tiny_model, block) -> str:
    """Runs ``block(model)`` inside a remote trace with the untrusted key; the RemoteError's text."""
    from nnsight.intervention.backends.remote import RemoteError

    model = client_model(tiny_model)
    with pytest.raises(RemoteError) as error:
        with model.trace("Ray", backend=backend(gateway, tiny_model)):
            block(model)
            out = model.lm_head.output.save()  # noqa: F841
    return str(error.value)


def still_serving(gateway, tiny_model, api_key=OTHER):
    model = client_model(tiny_model)
    with model.trace("The Eiffel Tower is in", backend=backend(gateway, tiny_model, api_key)):
        h = model.transformer.h[0].output.save()
    local = local_model(tiny_model)
    with local.trace("The Eiffel Tower is in"):
        expected = local.transformer.h[0].output.save()
    assert torch.allclose(h, expected), "the next caller saw a changed model"


def test_the_key_file_cannot_be_read(gateway, tiny_model):
    keys_file = gateway["keys_file"]
    text = refused(gateway, tiny_model, lambda model: open(keys_file).read())
    assert "PermissionError: [Errno 13] Permission denied" in text
    assert "runs contained" in text
    still_serving(gateway, tiny_model)


def test_the_dashboard_cannot_be_called(gateway, tiny_model):
    def block(model):
        import urllib.request

        urllib.request.urlopen("http://127.0.0.1:8265/api/serve/applications/", timeout=5)

    text = refused(gateway, tiny_model, block)
    assert "Operation not permitted" in text
    still_serving(gateway, tiny_model)


def test_no_tcp_connection_to_the_api_server(gateway, tiny_model):
    def block(model):
        import socket as sockets

        sockets.create_connection(("127.0.0.1", 6443), timeout=5)

    assert "PermissionError: [Errno 1] Operation not permitted" in refused(gateway, tiny_model, block)
    still_serving(gateway, tiny_model)


def test_ray_cannot_be_reached(gateway, tiny_model):
    def block(model):
        import ray
        from ray import serve

        if not ray.is_initialized():
            ray.init(address="auto")
        ray.nodes()
        serve.status()

    text = refused(gateway, tiny_model, block)
    assert "runs contained" in text, text
    still_serving(gateway, tiny_model)


def test_no_program_runs(gateway, tiny_model):
    def block(model):
        import subprocess

        subprocess.run(["id"], check=True)

    assert "PermissionError: [Errno 1] Operation not permitted" in refused(gateway, tiny_model, block)
    still_serving(gateway, tiny_model)


def test_the_models_files_cannot_be_written(gateway, tiny_model):
    target = os.path.join(tiny_model, "planted.py")

    def block(model):
        open(target, "w").write("print('owned')")

    assert "Permission denied" in refused(gateway, tiny_model, block)
    assert not os.path.exists(target)
    still_serving(gateway, tiny_model)


def test_a_weight_written_in_place_is_not_seen_by_the_next_caller(gateway, tiny_model):
    model = client_model(tiny_model)
    with model.trace("Ray", backend=backend(gateway, tiny_model)):
        model.transformer.h[0].mlp.c_fc.weight.data.mul_(0)
        model.transformer.h[0].mlp.c_proj.weight.detach().add_(1)
        h = model.transformer.h[0].output.save()  # noqa: F841
    still_serving(gateway, tiny_model)


def test_a_monkeypatch_and_a_thread_left_behind_are_gone_for_the_next_caller(gateway, tiny_model):
    import nnsight

    model = client_model(tiny_model)
    with model.trace("Ray", backend=backend(gateway, tiny_model)):
        import threading
        import time

        import torch.nn.functional as F

        F.gelu = lambda *args, **kwargs: 0
        torch.nn.functional.spy = "left behind"
        threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
        threads = nnsight.save(threading.active_count())
    assert threads >= 2

    with model.trace("Ray", backend=backend(gateway, tiny_model, OTHER)):
        import threading

        import torch.nn.functional as F

        seen = nnsight.save([hasattr(F, "spy"), F.gelu.__name__, threading.active_count()])
    assert seen[:2] == [False, "gelu"]
    assert seen[2] == 1
    still_serving(gateway, tiny_model)


def _pid(gateway, tiny_model, api_key) -> int:
    import nnsight

    model = client_model(tiny_model)
    with model.trace("Ray", backend=backend(gateway, tiny_model, api_key)):
        import os as system

        pid = nnsight.save(system.getpid())
    return pid


def test_the_trust_policy_puts_only_the_trusted_key_in_process(gateway, tiny_model, metrics_url):
    trusted = {_pid(gateway, tiny_model, TRUSTED) for _ in range(2)}
    contained = [_pid(gateway, tiny_model, RESEARCHER) for _ in range(2)]
    assert len(trusted) == 1, "the trusted key ran in the replica's process"
    assert len(set(contained)) == 2, "each contained job ran in a process of its own"
    assert trusted.isdisjoint(contained)


def test_each_path_is_counted_by_key_name_never_by_key(gateway, tiny_model, metrics_url):
    import time

    _pid(gateway, tiny_model, TRUSTED)
    _pid(gateway, tiny_model, RESEARCHER)
    text = ""
    for _ in range(60):
        text = httpx.get(metrics_url, timeout=5).text
        if 'key_name="owner@example.org"' in text and 'key_name="stranger@example.org"' in text:
            break
        time.sleep(1)
    lines = [line for line in text.splitlines() if line.startswith("ray_ndif_gateway_execution_paths")]
    assert any('key_name="owner@example.org"' in l and 'path="in-process"' in l for l in lines), lines
    assert any('key_name="stranger@example.org"' in l and 'path="contained"' in l for l in lines), lines
    assert TRUSTED not in text and RESEARCHER not in text


def _submit_slow(gateway, tiny_model, api_key, seconds):
    model = client_model(tiny_model)
    from nnsight.intervention.backends.remote import RemoteBackend

    remote = RemoteBackend(
        model_key=key_of(tiny_model),
        host=gateway["url"],
        api_key=api_key,
        env=model._remoteable_get_env(),
        blocking=False,
    )
    with model.trace("Ray", backend=remote):
        import time as clock

        clock.sleep(seconds)
        out = model.lm_head.output.save()  # noqa: F841
    return remote.job_id


def _status(gateway, job, api_key):
    return httpx.get(
        f"{gateway['url']}/response/{job}", headers={"ndif-api-key": api_key}, timeout=10
    ).json()


def test_one_keys_queue_delays_anothers_job_by_about_one_job(gateway, tiny_model):
    import time

    flood = [_submit_slow(gateway, tiny_model, RESEARCHER, 1.0) for _ in range(QUEUED_LIMIT + 1)]
    # One runs and QUEUED_LIMIT wait: the next is refused, naming the limit.
    refused = _submit_slow(gateway, tiny_model, RESEARCHER, 1.0)
    deadline = time.monotonic() + 30
    while _status(gateway, refused, RESEARCHER)["status"] != "ERROR":
        assert time.monotonic() < deadline, _status(gateway, refused, RESEARCHER)
        time.sleep(0.1)
    assert _status(gateway, refused, RESEARCHER)["description"] == (
        f"Your key already has {QUEUED_LIMIT} jobs waiting on this gateway, its limit"
        f" ({QUEUED_LIMIT}); wait for one of them to start, then send this job again."
    )

    def completed():
        return sum(_status(gateway, job, RESEARCHER)["status"] == "COMPLETED" for job in flood)

    before = completed()
    assert before <= 2, "the flood ended before the other key's job could be sent"
    still_serving(gateway, tiny_model, OTHER)  # blocking: returns once its job completed
    # In turn: the flood's running job and at most one more before the other key's; first come
    # first served would have run all of the flood's waiting jobs first.
    ahead = completed() - before
    assert ahead <= 2, f"{ahead} of the flooding key's jobs ran before the other key's one"

    deadline = time.monotonic() + 120
    while any(_status(gateway, job, RESEARCHER)["status"] != "COMPLETED" for job in flood):
        assert time.monotonic() < deadline, "the flooding key's jobs did not all complete"
        time.sleep(0.2)
