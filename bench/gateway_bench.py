"""The NDIF gateway's cost, measured with nnsight's own client on a local Ray (loopback only).

1. Latency of a trivial trace (one hidden state saved) through the gateway, its code run contained
   (the default) and in-process (the trust policy "everyone"), next to the same trace run with
   remote="local" (nnsight's LocalSimulationBackend: the same serialization, no server), as
   p50/p99 and their ratio from the same run; the client's own fixed cost (a new httpx.Client)
   and a bare GET through Serve's proxy apart; and the median of each hop inside the gateway,
   read from the request spans it exports to a receiver on loopback.
2. Throughput with 1, 4 and 16 concurrent clients (threads) on 1 and 2 model replicas.

Usage: python bench/gateway_bench.py [--requests N] [--throughput-requests N] [--json FILE]
Run it through bench/gateway.sh, which uses the project's Ray environment.
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
from otlp import SpanReceiver  # noqa: E402

local_ray.set_loopback_env()

import nnsight  # noqa: E402,F401  (the client's nnsight, before the server code configures its own)

API_KEY = "bench-key-0123456789abcdef"


def percentile(values, q):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HOPS = (
    "gateway.received",
    "gateway.released",
    "handle.called",
    "replica.running",
    "replica.result",
    "gateway.delivered",
)


class HopReceiver(SpanReceiver):
    """The tests' OTLP endpoint, reading the hops of the gateway's request spans."""

    def hops(self, path: str, last: int, wait: float = 12.0) -> dict:
        """The median of each hop (from one event of a request's span to the next) over the last
        ``last`` requests that took ``path`` (contained, in-process), in ms."""
        time.sleep(wait)  # the batch processor exports every 5 s
        rows = []
        for span in self.spans("nnsight.request"):
            attributes = {a.key: a.value.string_value for a in span.attributes}
            if attributes.get("ndif.path") != path:
                continue
            at = {e.name: e.time_unix_nano for e in span.events}
            if all(h in at for h in HOPS):
                rows.append((span.start_time_unix_nano, at))
        rows = [at for _, at in sorted(rows, key=lambda r: r[0])][-last:]
        return {
            f"{a} -> {b}": round(statistics.median((at[b] - at[a]) / 1e6 for at in rows), 2)
            for a, b in zip(HOPS, HOPS[1:])
        } | {"spans": len(rows)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="sequential traces per mode")
    parser.add_argument("--throughput-requests", type=int, default=96)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()

    import ray
    from nnsight.intervention.backends.remote import RemoteBackend
    from nnsight.modeling.language import LanguageModel
    from ray import serve
    from transformers import AutoTokenizer

    from ndif_serve import keys
    from ndif_serve import gateway as transport
    from ndif_serve.app import ModelDeployment
    from ndif_serve.settings import ModelSettings
    from ndif_serve.tiny import build_tiny_model

    work = tempfile.mkdtemp(prefix="ndif-gateway-bench-")
    model_dir = str(build_tiny_model(os.path.join(work, "tiny")))
    keys_file = os.path.join(work, "keys.yaml")
    with open(keys_file, "w") as f:
        f.write(f"keys: [{{key: {API_KEY}, name: bench}}]\n")
    key = keys.model_key(keys.LANGUAGE_MODEL, model_dir)

    port = free_port()
    local_ray.init(include_dashboard=False, log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    host = f"http://127.0.0.1:{port}"
    # The replica has both paths (the trust policy "trusted"): each gateway's policy picks one.
    settings = ModelSettings.from_args(
        {"model_key": key, "repo_id": model_dir, "dtype": "float32", "in_process": "trusted"}
    )

    def deploy_model(replicas):
        serve.run(
            ModelDeployment.options(num_replicas=replicas, ray_actor_options={"num_cpus": 0})
            .bind(settings),
            name="tiny",
            route_prefix="/models/tiny",
        )

    deploy_model(1)
    # The gateway's spans (one per request, its hops as events) come to a receiver on loopback.
    spans = HopReceiver()
    gateway_settings = transport.GatewaySettings.from_args(
        {"keys_file": keys_file, "catalog_refresh_seconds": 1}
    )

    def deploy_gateway(name, route, gateway_settings):
        serve.run(
            transport.Gateway.options(
                ray_actor_options={
                    "num_cpus": 0,
                    "runtime_env": {"env_vars": {"OTEL_EXPORTER_OTLP_ENDPOINT": spans.endpoint}},
                }
            ).bind(
                gateway_settings,
                transport.JobBrokerDeployment.options(ray_actor_options={"num_cpus": 0}).bind(
                    result_ttl_seconds=gateway_settings.result_ttl_seconds
                ),
            ),
            name=name,
            route_prefix=route,
        )

    # The default gateway runs every key's code contained; a second one, in-process (the trust
    # policy "everyone"), isolates the gateway's own cost from containment's.
    deploy_gateway("ndif-gateway", "/", gateway_settings)
    deploy_gateway(
        "ndif-gateway-in-process",
        "/in-process",
        transport.GatewaySettings.from_args(
            {"keys_file": keys_file, "catalog_refresh_seconds": 1, "in_process": "everyone"}
        ),
    )
    # A third, in-process too, that clients reach on its replica's own port (direct_port),
    # without Serve's HTTP proxy in between.
    direct_port = free_port()
    deploy_gateway(
        "ndif-gateway-direct",
        "/direct",
        transport.GatewaySettings.from_args(
            {
                "keys_file": keys_file,
                "catalog_refresh_seconds": 1,
                "in_process": "everyone",
                "direct_port": direct_port,
                "direct_host": "127.0.0.1",
            }
        ),
    )
    direct = f"http://127.0.0.1:{direct_port}"

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    client = LanguageModel(model_dir, tokenizer=tokenizer)
    local = LanguageModel(model_dir, tokenizer=tokenizer, dispatch=True, dtype="float32")
    env = client._remoteable_get_env()
    nnsight.CONFIG.APP.REMOTE_LOGGING = False

    def remote_trace(base=host):
        backend = RemoteBackend(model_key=key, host=base, api_key=API_KEY, env=env)
        with client.trace("The Eiffel Tower is in", backend=backend):
            h = client.transformer.h[0].output.save()
        return h

    def local_trace():
        with local.trace("The Eiffel Tower is in", remote="local"):
            h = local.transformer.h[0].output.save()
        return h

    def timed(fn, n):
        fn()  # warm
        times = []
        for _ in range(n):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return times

    wait_until = time.monotonic() + 120
    while True:
        try:
            remote_trace()
            remote_trace(host + "/in-process")
            remote_trace(direct)
            break
        except Exception:
            if time.monotonic() > wait_until:
                raise
            time.sleep(1)

    import httpx

    def client_floor():
        # What nnsight 0.8.1's RemoteBackend does per request before any byte is sent: a new
        # httpx.Client (its SSL context included), even for http://.
        httpx.Client(timeout=httpx.Timeout(10, read=600)).close()

    def ping():
        with httpx.Client(timeout=10) as c:
            c.get(host + "/ping")

    floor_times = timed(client_floor, 50)
    ping_times = timed(ping, 50)
    remote_times = timed(remote_trace, args.requests)
    in_process_times = timed(lambda: remote_trace(host + "/in-process"), args.requests)
    # Both in-process gateways' spans say "in-process": each one's are read after its run.
    in_process_hops = spans.hops("in-process", args.requests)
    direct_times = timed(lambda: remote_trace(direct), args.requests)
    direct_hops = spans.hops("in-process", args.requests)
    local_times = timed(local_trace, args.requests)
    latency = {
        "requests": args.requests,
        "gateway_p50_ms": round(statistics.median(remote_times) * 1000, 2),
        "gateway_p99_ms": round(percentile(remote_times, 99) * 1000, 2),
        "local_p50_ms": round(statistics.median(local_times) * 1000, 2),
        "local_p99_ms": round(percentile(local_times, 99) * 1000, 2),
    }
    latency["in_process_gateway_p50_ms"] = round(statistics.median(in_process_times) * 1000, 2)
    latency["in_process_gateway_p99_ms"] = round(percentile(in_process_times, 99) * 1000, 2)
    latency["direct_gateway_p50_ms"] = round(statistics.median(direct_times) * 1000, 2)
    latency["direct_gateway_p99_ms"] = round(percentile(direct_times, 99) * 1000, 2)
    latency["direct_p50_added_ms"] = round(
        latency["direct_gateway_p50_ms"] - latency["local_p50_ms"], 2
    )
    latency["p50_ratio"] = round(latency["gateway_p50_ms"] / latency["local_p50_ms"], 2)
    latency["p50_added_ms"] = round(latency["gateway_p50_ms"] - latency["local_p50_ms"], 2)
    latency["in_process_p50_added_ms"] = round(
        latency["in_process_gateway_p50_ms"] - latency["local_p50_ms"], 2
    )
    # Two floors any server of this client pays: the client's own httpx.Client per request, and a
    # bare GET through Ray Serve's HTTP proxy with a fresh client.
    latency["client_new_httpx_p50_ms"] = round(statistics.median(floor_times) * 1000, 2)
    latency["serve_proxy_ping_p50_ms"] = round(statistics.median(ping_times) * 1000, 2)
    latency["gateway_hops_p50_ms"] = spans.hops("contained", args.requests)
    latency["in_process_gateway_hops_p50_ms"] = in_process_hops
    latency["direct_gateway_hops_p50_ms"] = direct_hops
    print(json.dumps({"latency": latency}), flush=True)

    throughput = []
    for replicas in (1, 2):
        deploy_model(replicas)
        time.sleep(3)  # the gateway's catalog sees the new replicas
        remote_trace()
        for clients in (1, 4, 16):
            n = args.throughput_requests
            started = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(lambda _: remote_trace(), range(n)))
            elapsed = time.perf_counter() - started
            row = {
                "replicas": replicas,
                "clients": clients,
                "requests": n,
                "per_second": round(n / elapsed, 1),
            }
            throughput.append(row)
            print(json.dumps({"throughput": row}), flush=True)

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": sys.version.split()[0],
        },
        "latency": latency,
        "throughput": throughput,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
