"""The warm tier: a model application that stops leaves its weights in its node's store, within a
budget; when it is deployed again its replica maps them instead of reading the files, contained or
in process, and answers nnsight's own client exactly as a cold replica does. The gateway's
``/status`` reports a kept model nothing serves as WARM, as NDIF's does."""

import time
from pathlib import Path

import httpx
import pytest
import torch

from ndif_serve.warm import Entry, make_room, pack_files, packed_size, weight_files
from remote_client import client_model, key_of, local_model
from test_gateway import _wait_until_served

API_KEY = "warm-key-0123456789"
OPERATOR_TOKEN = "operator-token-0123456789"
GiB = 1024**3


@pytest.mark.parametrize(
    "entries, size, priority, budget, drops",
    [
        # room enough: nothing dropped
        ([Entry("a", 3, 0, 1.0)], 4, 0, 10, []),
        # least recently used first
        ([Entry("old", 4, 0, 1.0), Entry("new", 4, 0, 2.0)], 4, 0, 10, ["old"]),
        # lowest priority first, however recent
        ([Entry("low", 4, -10, 9.0), Entry("old", 4, 0, 1.0)], 4, 0, 10, ["low"]),
        # as many as it takes, in that order
        ([Entry("a", 4, 0, 1.0), Entry("b", 4, 0, 2.0), Entry("c", 2, 0, 3.0)], 8, 0, 10,
         ["a", "b"]),
        # a copy of higher priority is never dropped for a lower one: the newcomer is not kept
        ([Entry("high", 8, 5, 1.0)], 4, 0, 10, None),
        # larger than the whole budget
        ([], 11, 0, 10, None),
        # the same key again replaces itself
        ([Entry("x", 8, 0, 1.0)], 9, 0, 10, []),
        # equal priority is fair game
        ([Entry("same", 8, 3, 1.0)], 4, 3, 10, ["same"]),
    ],
)
def test_room_is_made_by_priority_then_least_recent_use(entries, size, priority, budget, drops):
    assert make_room(entries, "x", size, priority, budget) == drops


def test_a_packed_copy_loads_the_same_model_without_its_files(tiny_model):
    from ndif_serve.model import LoadedModel
    from ndif_serve.settings import ModelSettings

    settings = ModelSettings.from_args(
        {"model_key": key_of(tiny_model), "repo_id": tiny_model, "dtype": "float32"}
    )
    files = weight_files(tiny_model, None)
    assert files, "the tiny model is written as safetensors"
    index, buffer = pack_files(files, torch.float32)
    assert packed_size(index) <= len(buffer)
    loaded = LoadedModel.load(settings, warm=(index, torch.from_numpy(buffer.copy())))
    assert loaded.load_source == "warm"
    cold = local_model(tiny_model)
    with loaded.nnsight_model.trace("Warm weights"):
        warm_hidden = loaded.nnsight_model.transformer.h[1].output.save()
    with cold.trace("Warm weights"):
        cold_hidden = cold.transformer.h[1].output.save()
    assert torch.equal(_first(warm_hidden), _first(cold_hidden))
    # tied weights stay tied: one tensor, as in a cold load
    module = loaded.module
    assert module.lm_head.weight.data_ptr() == module.transformer.wte.weight.data_ptr()


def test_a_copy_that_does_not_fit_the_model_falls_back_to_its_files(tiny_model):
    from ndif_serve.model import LoadedModel
    from ndif_serve.settings import ModelSettings

    settings = ModelSettings.from_args(
        {"model_key": key_of(tiny_model), "repo_id": tiny_model, "dtype": "float32"}
    )
    index, buffer = pack_files(weight_files(tiny_model, None), torch.float32)
    loaded = LoadedModel.load(settings, warm=(index[:3], torch.from_numpy(buffer.copy())))
    assert loaded.load_source == "cold"


def test_a_contained_zygote_loads_from_the_copy(tiny_model):
    import os

    from ndif_serve import contained
    from ndif_serve.settings import ModelSettings
    from ndif_serve.warm import memfd_of

    settings = ModelSettings.from_args(
        {"model_key": key_of(tiny_model), "repo_id": tiny_model, "dtype": "float32"}
    )
    index, buffer = pack_files(weight_files(tiny_model, None), torch.float32)
    fd, size = memfd_of(buffer)
    try:
        runner = contained.start(settings, (index, fd, size))
    finally:
        os.close(fd)
    try:
        assert runner.info["load_source"] == "warm"
        assert runner.info["nnsight"]
    finally:
        runner.close()


MAPPED = """
import struct, torch
from ndif_serve.containment.runner import Answer
from ndif_serve.warm import read_private

def load(fd, size):
    return read_private(fd, size).view(torch.float32)

def handle(weights, request, payload, log):
    if payload == b"tamper":
        weights.mul_(10)
    return Answer("COMPLETED", result=str(float(weights.sum())).encode())
"""


def test_what_a_contained_request_writes_to_warm_weights_ends_with_it(tmp_path, monkeypatch):
    """The zygote reads the shared-memory file into its own memory: a request that writes the
    weights changes its own pages only; the next request and the file itself still hold the
    copy."""
    import mmap
    import os

    import numpy as np

    from ndif_serve.containment import Policy
    from ndif_serve.containment.runner import ContainedRunner
    from ndif_serve.warm import memfd_of

    (tmp_path / "mapped_for_test.py").write_text(MAPPED)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    weights = np.ones(1024, dtype=np.float32)
    fd, size = memfd_of(weights.view(np.uint8))
    runner = ContainedRunner("mapped_for_test:load", "mapped_for_test:handle", Policy(),
                             load_args={"fd": fd, "size": size}, pass_fds=(fd,))
    try:
        assert float(runner.run(b"tamper", 30).result) == 10240.0
        assert float(runner.run(b"look", 30).result) == 1024.0
        with mmap.mmap(fd, size, prot=mmap.PROT_READ) as shared:
            assert np.frombuffer(shared, dtype=np.float32).sum() == 1024.0
    finally:
        runner.close()
        os.close(fd)


@pytest.fixture(scope="module")
def gateway(serve_url, tmp_path_factory):
    from ray import serve

    from ndif_serve.app import build_gateway

    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys_file.write_text(f"keys:\n- {{key: {API_KEY}, name: warm@example.org}}\n")
    serve.run(
        build_gateway(
            {
                "keys_file": str(keys_file),
                "catalog_refresh_seconds": 1,
                "operator_token": OPERATOR_TOKEN,
                "warm_budget_bytes": GiB,
            }
        ),
        name="ndif-gateway",
        route_prefix="/",
    )
    yield serve_url
    serve.delete("ndif-gateway")


@pytest.fixture
def model_dir(tiny_model, tmp_path):
    """The tiny model under a path of its own: a model key no other test serves or keeps."""
    link = tmp_path / "model"
    link.symlink_to(tiny_model)
    return str(link)


def deploy(directory: str, name: str, in_process: str = "nobody", budget: int = GiB):
    from ray import serve

    from ndif_serve.app import build

    serve.run(
        build(
            {
                "model_key": key_of(directory),
                "repo_id": directory,
                "dtype": "float32",
                "in_process": in_process,
                "warm_budget_bytes": budget,
                "priority": -5,
                "pool": "cpu",
                "deployment": f"test/{name}",
            }
        ),
        name=name,
        route_prefix=f"/models/{name}",
    )


def replica_info(url: str, name: str) -> dict:
    return httpx.get(f"{url}/models/{name}/info", timeout=30).json()


def warm_level(url: str, key: str):
    entries = httpx.get(url + "/status", timeout=5).json()["deployments"].values()
    return [e for e in entries if e.get("model_key") == key]


def wait_for_level(url: str, key: str, level: str, timeout=120) -> dict:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = warm_level(url, key)
        match = [e for e in seen if e["deployment_level"] == level]
        if match:
            return match[0]
        time.sleep(0.5)
    raise AssertionError(f"{key} was not {level} in /status within {timeout} s: {seen}")


def trace(url: str, directory: str):
    from nnsight.intervention.backends.remote import RemoteBackend

    model = client_model(directory)
    remote = RemoteBackend(
        model_key=key_of(directory), host=url, api_key=API_KEY, env=model._remoteable_get_env()
    )
    with model.trace("Warm again", backend=remote):
        hidden = model.transformer.h[1].output.save()
    return _first(hidden)


def expected(directory: str):
    local = local_model(directory)
    with local.trace("Warm again"):
        hidden = local.transformer.h[1].output.save()
    return _first(hidden)


@pytest.mark.parametrize("in_process", ["nobody", "everyone"])
def test_a_stopped_model_comes_back_warm_with_the_same_answers(gateway, model_dir, in_process):
    from ray import serve

    key = key_of(model_dir)
    name = f"warm-{in_process}"
    deploy(model_dir, name, in_process)
    _wait_until_served(gateway, key)
    assert replica_info(gateway, name)["load_source"] == "cold"
    cold = trace(gateway, model_dir)
    assert torch.equal(cold, expected(model_dir))

    serve.delete(name)  # as a preemption, a scale to zero or an idle-out does
    entry = wait_for_level(gateway, key, "WARM")
    assert entry["application_state"] == "NOT_STARTED"
    assert entry["repo_id"] == model_dir
    # the operator's exchange names the node, the pool and the deployment (no on-demand here)
    report = operator_report(gateway)
    copy = next(c for c in report["warm"] if c["key"] == key)
    assert (copy["pool"], copy["deployment"]) == ("cpu", f"test/{name}")
    assert copy["bytes"] > 0 and copy["node"]
    assert report["waiting"] == {}

    deploy(model_dir, name, in_process)
    _wait_until_served(gateway, key)
    assert replica_info(gateway, name)["load_source"] == "warm"
    assert torch.equal(trace(gateway, model_dir), cold)
    assert [e["deployment_level"] for e in warm_level(gateway, key)] == ["HOT"]
    serve.delete(name)
    _drop_everywhere(key)


def test_a_store_keeps_within_its_budget_dropping_the_least_recently_used(
    serve_url, tiny_model, tmp_path
):
    """A store of one node, asked as stopping replicas ask it: the budget holds two copies of
    the tiny model, so a third drops the least recently taken; a higher priority is kept over a
    lower one; a copy larger than the budget is not kept, with the reason."""
    import ray

    from ndif_serve.warm_store import WarmStore

    size = packed_size(pack_files(weight_files(tiny_model, None), torch.float32)[0])
    names = []
    for i in range(4):
        link = tmp_path / f"m{i}"
        link.symlink_to(tiny_model)
        names.append(str(link))
    store = WarmStore.remote(ray.get_runtime_context().get_node_id(), "test-host", 2 * size + size // 2)

    def keep(directory, priority=0):
        return ray.get(
            store.keep.remote(key_of(directory), directory, None, "float32", priority, None, None,
                              wait=True)
        )

    def kept():
        return sorted(e["key"] for e in ray.get(store.entries.remote()))

    assert keep(names[0]).startswith("kept (")
    assert keep(names[1]).startswith("kept (")
    assert keep(names[1]) == "kept already"
    assert ray.get(store.take.remote(key_of(names[0]), "float32")) is not None  # used again
    assert keep(names[2]).startswith("kept (")
    assert kept() == sorted([key_of(names[0]), key_of(names[2])])
    # not in another dtype
    assert ray.get(store.take.remote(key_of(names[0]), "bfloat16")) is None

    assert keep(names[3], priority=10).startswith("kept (")
    said = keep(names[1], priority=-1)
    assert said.startswith("not kept") and "higher priority" in said
    assert key_of(names[3]) in kept()

    # a budget beyond the node's object store is held within it (a spilled copy would be slow)
    ray.get(store.set_budget.remote(10**15))
    limits = ray.get(store.limits.remote())
    assert 0 < limits["budget"] < limits["object_store"]

    ray.get(store.set_budget.remote(size // 2))
    assert kept() == []
    said = keep(names[0])
    assert said.startswith("not kept") and "do not fit" in said
    ray.kill(store)


def operator_report(url: str, token: str = OPERATOR_TOKEN):
    answer = httpx.post(
        url + "/operator/demand", json={"states": {}}, headers={"ndif-operator-token": token},
        timeout=10,
    )
    if token != OPERATOR_TOKEN:
        return answer
    answer.raise_for_status()
    return answer.json()


def test_only_the_operator_reads_what_the_nodes_keep(gateway):
    answer = operator_report(gateway, "not-the-operator-token")
    assert answer.status_code == 403
    assert "Only the operator" in answer.text


def test_a_stopping_replica_does_not_wait_and_a_starting_one_gets_the_copy_being_made(
    serve_url, tiny_model, tmp_path
):
    import ray

    from ndif_serve.warm_store import WarmStore

    link = tmp_path / "made-while-asked"
    link.symlink_to(tiny_model)
    key = key_of(str(link))
    store = WarmStore.remote(ray.get_runtime_context().get_node_id(), "test-host", GiB)
    said = ray.get(store.keep.remote(key, str(link), None, "float32", 0, None, None))
    assert said in ("keeping", "kept already")
    found = ray.get(store.take.remote(key, "float32"))
    assert found is not None
    index, refs = found
    assert 0 < packed_size(index) <= len(ray.get(refs[0]))
    ray.kill(store)


def _drop_everywhere(key: str) -> None:
    import ray

    from ndif_serve.warm_store import stores

    for store in stores():
        ray.get(store.drop.remote(key))


def _first(value):
    return value[0] if isinstance(value, tuple) else value
