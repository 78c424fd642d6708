"""The tests' and benchmarks' local Ray keeps to loopback: every connect(2) of every process it
starts, traced from its start (a sampling watcher can miss a one-second probe)."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
START = textwrap.dedent(
    f"""\
    import sys, time
    sys.path.insert(0, {str(TESTS)!r})
    import local_ray
    local_ray.init(include_dashboard=False, log_to_driver=False, num_cpus=1)
    import ray
    assert ray.get(ray.remote(lambda: 1 + 1).remote()) == 2
    time.sleep(float(sys.argv[1]))  # the dashboard's start-up probes happen meanwhile
    ray.shutdown()
    """
)


def _connects(tmp_path) -> list[str]:
    if shutil.which("strace") is None:
        pytest.fail("strace is needed to trace the local Ray's connections (hack/test.sh has it)")
    trace = tmp_path / "connects.txt"
    subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(trace), sys.executable, "-c",
         START, "5"],
        check=True,
        timeout=180,
        capture_output=True,
    )
    return [line for line in trace.read_text().splitlines() if "AF_INET" in line]


def _outside_loopback(line: str) -> bool:
    return not ('inet_addr("127.' in line or '"::1"' in line or '"::ffff:127.' in line)


def test_the_local_ray_connects_to_nothing_outside_loopback(tmp_path):
    connects = _connects(tmp_path)
    assert connects, "the trace saw no connection at all: it did not trace Ray"
    assert [line for line in connects if _outside_loopback(line)] == []
