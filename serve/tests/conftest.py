import os
import socket
import sys
import tempfile
from pathlib import Path

import pytest

# This process is also the researcher's side of the tests: nnsight as a client has it, with
# `.save()` on every object, before the serving code points NNSIGHT_CONFIG at its own settings.
import nnsight  # noqa: E402,F401

import local_ray  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One machine: Ray on loopback only, with no token.
local_ray.set_loopback_env()
# The Hugging Face cache the replicas read offline (Ray's workers inherit it from ray.init) and
# the researcher's subprocesses read as their own: models under repository ids live here.
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="ndif-hf-home-"))

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    from ndif_serve.tiny import build_tiny_model

    return str(build_tiny_model(tmp_path_factory.mktemp("tiny-model")))


@pytest.fixture(scope="session")
def hub_model():
    """The tiny model under a repository id in the Hugging Face cache, and a loopback stand-in
    for the Hub's model-info route (nnsight's client asks it to canonicalize the id): the
    repository id, the stand-in's URL (for HF_ENDPOINT) and the snapshot's directory."""
    from hub_stand_in import serve

    from ndif_serve.tiny import REPO_ID, build_tiny_model_in_hub_cache

    hub_cache = Path(os.environ["HF_HOME"]) / "hub"
    snapshot = build_tiny_model_in_hub_cache(hub_cache, REPO_ID)
    server, url = serve(hub_cache)
    yield REPO_ID, url, str(snapshot)
    server.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


METRICS_PORT = free_port()


@pytest.fixture(scope="session")
def metrics_url(serve_url):
    """Ray's Prometheus export of this node, where applications' ray.util.metrics appear."""
    return f"http://127.0.0.1:{METRICS_PORT}/metrics"


@pytest.fixture(scope="session")
def serve_url():
    """A local, in-process Ray with Serve's HTTP proxy on a free loopback port, for every test
    module that deploys applications on it."""
    import ray
    from ray import serve

    port = free_port()
    local_ray.init(
        num_cpus=8,
        num_gpus=0,
        include_dashboard=False,
        log_to_driver=False,
        _metrics_export_port=METRICS_PORT,
    )
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    yield f"http://127.0.0.1:{port}"
    serve.shutdown()
    ray.shutdown()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis server (Debian's redis-server) on loopback, nothing kept on disk."""
    import traffic

    try:
        process, store = traffic.start_redis(
            str(tmp_path_factory.mktemp("redis")), "store-password-0123"
        )
    except RuntimeError as e:
        pytest.fail(str(e))
    yield store
    process.terminate()
    process.wait(10)
