"""Re-admission of a stopped model, cold (read from its files) against warm (from the copy the
warm tier kept), on a Ray Serve from PyPI on this machine. The model is a GPT-2 of random weights
(about 1 GB in float32 by default); its files are dropped from the page cache before each start,
as on a node whose cache does not hold them. Each figure is the time from the application's
deployment to the answer of its first request (a one-token /generate, which reads every weight),
and the replica's own load as it reports it.

    hack/ray-env.sh --print   # the Ray environment
    $VENV/bin/python bench/warm_readmission.py [--width 1024] [--layers 20] [--rounds 2]
"""

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serve", "tests"))

import local_ray  # noqa: E402  (the tests' local Ray on loopback)

local_ray.set_loopback_env()


def drop_cached(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import httpx
    import ray
    from ray import serve

    from ndif_serve.app import build
    from ndif_serve.tiny import build_tiny_model
    from ndif_serve.warm_store import all_entries

    directory = Path(tempfile.mkdtemp(prefix="ndif-warm-bench-")) / "model"
    build_tiny_model(directory, width=args.width, layers=args.layers)
    size = sum(p.stat().st_size for p in directory.glob("*.safetensors"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    local_ray.init(object_store_memory=3 * size + 500_000_000, include_dashboard=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    url = f"http://127.0.0.1:{port}/bench"

    def start(budget: int) -> tuple[float, dict]:
        drop_cached(directory)
        began = time.monotonic()
        serve.run(
            build({"repo_id": str(directory), "dtype": "float32", "warm_budget_bytes": budget}),
            name="bench", route_prefix="/bench",
        )
        answer = httpx.post(url + "/generate", json={"prompt": "Warm", "max_new_tokens": 1},
                            timeout=600)
        answer.raise_for_status()
        seconds = time.monotonic() - began
        return seconds, httpx.get(url + "/info", timeout=60).json()

    def stop_and_wait_for_copy(expect: bool) -> float:
        began = time.monotonic()
        serve.delete("bench")
        stopped = time.monotonic() - began
        deadline = time.monotonic() + 300
        while expect and time.monotonic() < deadline:
            if any(e["key"].find(str(directory)) >= 0 for e in all_entries()):
                break
            time.sleep(0.5)
        return stopped

    rows = {"cold": [], "warm": [], "cold_load": [], "warm_load": [], "stop_warm": []}
    for _ in range(args.rounds):
        # cold: no warm tier
        seconds, info = start(0)
        assert info["load_source"] == "cold", info
        rows["cold"].append(seconds)
        rows["cold_load"].append(info["load_seconds"])
        stop_and_wait_for_copy(False)
        # the same model with the warm tier: a first start keeps nothing yet; its stop keeps it
        start(2 * size)
        rows["stop_warm"].append(stop_and_wait_for_copy(True))
        seconds, info = start(2 * size)
        assert info["load_source"] == "warm", info
        rows["warm"].append(seconds)
        rows["warm_load"].append(info["load_seconds"])
        serve.delete("bench")
        from ndif_serve.warm_store import stores

        for store in stores():
            ray.kill(store)
    result = {k: round(statistics.median(v), 3) for k, v in rows.items()}
    result.update(weights_bytes=size, rounds=args.rounds,
                  warm_over_cold=round(result["warm"] / result["cold"], 3))
    print(json.dumps(result))
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    sys.exit(main())
