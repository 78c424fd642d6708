"""The contained runner's cost per request against the same request in-process, in one run:
a trivial request (sum of a 4-float tensor) and one over the tiny model's weights.

    $(hack/ray-env.sh --print)/bin/python bench/contained_runner.py [REQUESTS] [GAP_MS]

Requests are sent back to back, or GAP_MS apart (untimed), as requests that do not all arrive at
once would be: the runner forks the next contained child between requests.
"""

import os
import statistics
import sys
import tempfile
import textwrap
import time

from ndif_serve.containment import Policy
from ndif_serve.containment.runner import ContainedRunner

HANDLERS = textwrap.dedent(
    """
    import torch

    def load():
        torch.manual_seed(0)
        return {"w": torch.ones(4), "tiny": torch.nn.Linear(256, 256)}

    def handle(model, payload):
        if payload == b"trivial":
            return str(float(model["w"].sum())).encode()
        x = torch.ones(8, 256)
        with torch.no_grad():
            return str(float(model["tiny"](x).sum())).encode()
    """
)


def percentiles(samples):
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99) - 1] * 1000


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    gap = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    workdir = tempfile.mkdtemp()
    with open(os.path.join(workdir, "bench_handlers.py"), "w") as f:
        f.write(HANDLERS)
    sys.path.insert(0, workdir)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [workdir, os.environ.get("PYTHONPATH")]))
    import bench_handlers

    started = time.monotonic()
    runner = ContainedRunner("bench_handlers:load", "bench_handlers:handle", Policy())
    print(f"zygote ready in {time.monotonic() - started:.2f} s")
    loaded = bench_handlers.load()
    for kind in (b"trivial", b"linear"):
        for label, call in (
            ("in-process", lambda: bench_handlers.handle(loaded, kind)),
            ("contained", lambda: runner.run(kind, 30).result),
        ):
            call()
            samples = []
            for _ in range(count):
                time.sleep(gap)
                t = time.perf_counter()
                call()
                samples.append(time.perf_counter() - t)
            p50, p99 = percentiles(samples)
            print(f"{kind.decode():8s} {label:11s} p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
                  f"  ({count} requests, {gap * 1000:g} ms apart)")
    runner.close()


if __name__ == "__main__":
    main()
