"""Contained execution against in-process, through the gateway with nnsight's own client, in one
run on a local Ray (loopback only). One model replica under the trust policy ``trusted``: a key
tagged trusted runs in the replica's process, another key contained; requests of the two keys
alternate, so both paths see the same machine at the same time.

1. p50/p99 of a trivial trace (one hidden state saved) and of a 40 MB result (10M float32 saved);
2. throughput with 1, 4 and 16 concurrent clients on each path;
3. memory: proportional set size (PSS) of the replica's process, of its zygote and of the spare
   contained child (the fork shares the zygote's pages until it writes them);
4. the time to make a fresh contained process: the zygote's start (model load) and a fork that
   contains itself and answers.

Usage: bench/contained.sh [--requests N] [--big-requests N] [--throughput-requests N] [--json F]
"""

import argparse
import concurrent.futures
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serve", "tests"))

import local_ray  # noqa: E402  (the tests' local Ray on loopback)

local_ray.set_loopback_env()

import nnsight  # noqa: E402  (the client's nnsight, before the server code configures its own)

TRUSTED = "bench-trusted-0123456789abcdef"
CONTAINED = "bench-contained-0123456789abcdef"


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def ms(seconds):
    return round(seconds * 1000, 2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pss_bytes(pid):
    """None when the process is gone (a child ends after each request)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def mib(value):
    return None if value is None else round(value / 2**20, 1)


def processes_of_runner():
    """(replica pid, zygote pid, spare child pid) of the one replica, found by the zygote's
    command line."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().split(b"\0")
            if b"ndif_serve.containment.runner" not in cmdline:
                continue
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            children = open(f"/proc/{entry}/task/{entry}/children").read().split()
            return parent, int(entry), int(children[0]) if children else None
        except (OSError, IndexError, ValueError):
            continue
    raise RuntimeError("no zygote found")


def fresh_child_seconds(model_dir, samples=20):
    """A process holding the model forks a child that contains itself and answers on a pipe."""
    from ndif_serve.containment import Policy, contain
    from ndif_serve.contained import load

    loaded = load({"repo_id": model_dir, "dtype": "float32"})  # noqa: F841  (what the fork copies)
    times = []
    for _ in range(samples):
        read, write = os.pipe()
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            contain(Policy(scratch=tempfile.mkdtemp()))
            os.write(write, b"x")
            os._exit(0)
        os.close(write)
        os.read(read, 1)
        times.append(time.perf_counter() - started)
        os.close(read)
        os.waitpid(pid, 0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="trivial traces per path")
    parser.add_argument("--big-requests", type=int, default=20, help="40 MB results per path")
    parser.add_argument("--throughput-requests", type=int, default=48)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import ray
    from nnsight.intervention.backends.remote import RemoteBackend
    from nnsight.modeling.language import LanguageModel
    from ray import serve
    from transformers import AutoTokenizer

    from ndif_serve import contained, keys
    from ndif_serve.app import ModelDeployment, build_gateway
    from ndif_serve.settings import ModelSettings
    from ndif_serve.tiny import build_tiny_model

    work = tempfile.mkdtemp(prefix="ndif-contained-bench-")
    model_dir = str(build_tiny_model(os.path.join(work, "tiny")))
    keys_file = os.path.join(work, "keys.yaml")
    with open(keys_file, "w") as f:
        f.write(
            f"keys:\n- {{key: {TRUSTED}, name: trusted, tags: [trusted]}}\n"
            f"- {{key: {CONTAINED}, name: contained}}\n"
        )
    key = keys.model_key(keys.LANGUAGE_MODEL, model_dir)
    settings = ModelSettings.from_args(
        {"model_key": key, "repo_id": model_dir, "dtype": "float32", "in_process": "trusted"}
    )

    started = time.perf_counter()
    runner = contained.start(settings)
    zygote_start = time.perf_counter() - started
    runner.close()
    fork_times = fresh_child_seconds(model_dir)

    port = free_port()
    local_ray.init(include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    host = f"http://127.0.0.1:{port}"
    serve.run(
        ModelDeployment.options(num_replicas=1, ray_actor_options={"num_cpus": 0}).bind(settings),
        name="tiny",
        route_prefix="/models/tiny",
    )
    serve.run(
        build_gateway(
            {"keys_file": keys_file, "catalog_refresh_seconds": 1, "in_process": "trusted"}
        ),
        name="ndif-gateway",
        route_prefix="/",
    )

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    client = LanguageModel(model_dir, tokenizer=tokenizer)
    env = client._remoteable_get_env()
    nnsight.CONFIG.APP.REMOTE_LOGGING = False

    def trivial(api_key):
        backend = RemoteBackend(model_key=key, host=host, api_key=api_key, env=env)
        with client.trace("The Eiffel Tower is in", backend=backend):
            h = client.transformer.h[0].output.save()
        return h

    def big(api_key):
        backend = RemoteBackend(model_key=key, host=host, api_key=api_key, env=env)
        with client.trace("The Eiffel Tower is in", backend=backend):
            import torch

            values = torch.randn(10_000_000).save()
        assert values.numel() == 10_000_000
        return values

    wait_until = time.monotonic() + 180
    while True:
        try:
            trivial(TRUSTED)
            trivial(CONTAINED)
            break
        except Exception:
            if time.monotonic() > wait_until:
                raise
            time.sleep(1)

    def alternating(fn, n):
        times = {TRUSTED: [], CONTAINED: []}
        for _ in range(n):
            for api_key in (TRUSTED, CONTAINED):
                begun = time.perf_counter()
                fn(api_key)
                times[api_key].append(time.perf_counter() - begun)
        return times

    latency = {}
    for name, fn, n in (("trivial", trivial, args.requests), ("result_40mb", big, args.big_requests)):
        times = alternating(fn, n)
        row = {"requests": n}
        for path, api_key in (("in_process", TRUSTED), ("contained", CONTAINED)):
            row[f"{path}_p50_ms"] = ms(statistics.median(times[api_key]))
            row[f"{path}_p99_ms"] = ms(percentile(times[api_key], 99))
        row["p50_added_ms"] = round(row["contained_p50_ms"] - row["in_process_p50_ms"], 2)
        latency[name] = row
        print(json.dumps({name: row}), flush=True)

    throughput = []
    for clients in (1, 4, 16):
        row = {"clients": clients, "requests": args.throughput_requests}
        for path, api_key in (("in_process", TRUSTED), ("contained", CONTAINED)):
            begun = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda _: trivial(api_key), range(args.throughput_requests)))
            row[f"{path}_per_second"] = round(
                args.throughput_requests / (time.perf_counter() - begun), 1
            )
        row["contained_share"] = round(row["contained_per_second"] / row["in_process_per_second"], 2)
        throughput.append(row)
        print(json.dumps({"throughput": row}), flush=True)

    time.sleep(2)  # the last child reaped, the next spare forked and contained
    replica, zygote, spare = processes_of_runner()
    memory = {
        "replica_pss_mib": mib(pss_bytes(replica)),
        "zygote_pss_mib": mib(pss_bytes(zygote)),
        "spare_child_pss_mib": mib(pss_bytes(spare)) if spare else None,
    }
    fresh = {
        "zygote_start_s": round(zygote_start, 2),
        "fork_and_contain_p50_ms": ms(statistics.median(fork_times)),
        "fork_and_contain_p99_ms": ms(percentile(fork_times, 99)),
    }
    print(json.dumps({"memory": memory, "fresh_process": fresh}), flush=True)

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
        },
        "latency": latency,
        "throughput": throughput,
        "memory": memory,
        "fresh_process": fresh,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
