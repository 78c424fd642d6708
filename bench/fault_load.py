"""Sustained load through faults, with nnsight's own client on a local Ray (loopback only).

N clients send blocking traces for D seconds against 2 model replicas behind 2 gateway replicas,
once without a job store (the embedded broker) and once with one (a real redis-server on
loopback). In each run, at a third of D the broker is killed (with the store: a second gateway
replica instead, as there is no broker), and at two thirds one gateway replica. Reported per
run: completed traces per second, p50/p99 of completed traces, jobs lost (a wrong answer, or a
job whose websocket closed and whose poll never ended), clients left hanging, and the outcomes
and errors by reason.

Usage: python bench/fault_load.py [--clients 16] [--seconds 300] [--json FILE]
Run it through bench/fault_load.sh, which uses the project's Ray environment.
"""

import argparse
import json
import os
import platform
import socket
import sys
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "serve", "tests"))

import local_ray  # noqa: E402  (the tests' local Ray on loopback)

local_ray.set_loopback_env()

import nnsight  # noqa: E402,F401  (the client's nnsight, before the server code configures its own)


API_KEY = "bench-key-0123456789abcdef"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def killed(application, deployment):
    import traffic

    print(f"  killed {traffic.kill_one(application, deployment)}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import ray
    from ray import serve

    import traffic
    from remote_client import wait_until_served
    from ndif_serve import gateway as transport
    from ndif_serve import keys
    from ndif_serve.app import ModelDeployment
    from ndif_serve.settings import ModelSettings
    from ndif_serve.tiny import build_tiny_model

    nnsight.CONFIG.APP.REMOTE_LOGGING = False
    work = tempfile.mkdtemp(prefix="ndif-fault-load-")
    model_dir = str(build_tiny_model(os.path.join(work, "tiny")))
    keys_file = os.path.join(work, "keys.yaml")
    with open(keys_file, "w") as f:
        f.write(f"keys: [{{key: {API_KEY}, name: bench}}]\n")
    key = keys.model_key(keys.LANGUAGE_MODEL, model_dir)
    redis, store = traffic.start_redis(work, "bench-redis-password")

    port = free_port()
    local_ray.init(include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    host = f"http://127.0.0.1:{port}"
    settings = ModelSettings.from_args({"model_key": key, "repo_id": model_dir, "dtype": "float32"})
    serve.run(
        ModelDeployment.options(num_replicas=2, ray_actor_options={"num_cpus": 0}).bind(settings),
        name="tiny",
        route_prefix="/models/tiny",
    )

    results = {}
    try:
        for mode in ("embedded broker", "store"):
            gateway_args = {"keys_file": keys_file, "catalog_refresh_seconds": 1}
            if mode == "store":
                gateway_args["store"] = dict(store, prefix=f"bench{int(time.time())}")
            gateway_settings = transport.GatewaySettings.from_args(gateway_args)
            broker = (
                None
                if mode == "store"
                else transport.JobBrokerDeployment.options(
                    ray_actor_options={"num_cpus": 0}
                ).bind(result_ttl_seconds=gateway_settings.result_ttl_seconds)
            )
            serve.run(
                transport.Gateway.options(
                    num_replicas=2, ray_actor_options={"num_cpus": 0}
                ).bind(gateway_settings, broker),
                name="ndif-gateway",
                route_prefix="/",
            )
            wait_until_served(host, key)
            first = ("ndif-gateway", "Gateway") if mode == "store" else ("ndif-gateway", "JobBroker")
            print(f"{mode}: {args.clients} clients for {args.seconds:g} s", flush=True)
            report = traffic.run(
                host, API_KEY, key, model_dir, clients=args.clients, seconds=args.seconds,
                faults=[
                    (args.seconds / 3, lambda: killed(*first)),
                    (2 * args.seconds / 3, lambda: killed("ndif-gateway", "Gateway")),
                ],
            )
            completed = report.kinds()["COMPLETED"]
            results[mode] = {
                "killed": [f"{first[1]} at {args.seconds / 3:g} s",
                           f"Gateway at {2 * args.seconds / 3:g} s"],
                "completed_per_second": completed / args.seconds,
                "p50_seconds": report.percentile(0.50),
                "p99_seconds": report.percentile(0.99),
                "jobs_lost": report.lost,
                "clients_hanging": report.hanging,
                "outcomes": dict(report.kinds()),
                "closed_then": dict(report.closed_then),
                "errors_by_reason": dict(report.errors_by_reason().most_common(8)),
            }
            print(json.dumps(results[mode], indent=2), flush=True)
            serve.delete("ndif-gateway")
    finally:
        serve.shutdown()
        ray.shutdown()
        redis.terminate()
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "clients": args.clients,
        "seconds": args.seconds,
        "model_replicas": 2,
        "gateway_replicas": 2,
        "runs": results,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    # Without a store a killed gateway replica takes the jobs it held with it (docs/failures.md):
    # only the store's run must lose none. No run may leave a client hanging. (A POST may find
    # its session not open when the replica that held its websocket was killed: that is its
    # answer.)
    failed = [
        mode
        for mode, run in results.items()
        if run["clients_hanging"]
        or (mode == "store" and run["jobs_lost"])
        or not run["outcomes"].get("COMPLETED")
    ]
    if failed:
        sys.exit(f"clients hanging, jobs lost with the store or nothing completed in: {failed}")


if __name__ == "__main__":
    main()
