"""A local Ray for the tests and benchmarks that keeps to this machine's loopback.

Two things Ray does on its own would leave it:
- it takes the machine's interface address for its own traffic (``_node_ip_address="127.0.0.1"``
  is turned back into that address) unless it runs as it does on a laptop, on loopback;
- its dashboard process, which runs even without the dashboard for usage statistics, probes the
  cloud's metadata server (169.254.169.254, and a DNS lookup of metadata.google.internal) at
  every start, usage statistics off or not, unless it finds the cluster launcher's
  ``~/ray_bootstrap_config.yaml``. Ray's processes get a home of their own that has one.
"""

from __future__ import annotations

import os
import tempfile

LOOPBACK_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    "RAY_USAGE_STATS_ENABLED": "0",
    # A cluster that `ray start` made reports that its statistics are off: to nobody, here.
    "RAY_USAGE_STATS_REPORT_URL": "http://127.0.0.1:9/",
    # One machine: no token between Ray's own processes.
    "RAY_AUTH_MODE": "disabled",
    # Two busy cores start Serve's proxy in more than its default 5 s readiness check.
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "60",
}

BOOTSTRAP_CONFIG = "provider:\n  type: local\n"


def set_loopback_env() -> None:
    for name, value in LOOPBACK_ENV.items():
        os.environ.setdefault(name, value)


def ray_home() -> str:
    """A home for Ray's processes with the launcher's file that keeps the dashboard from asking
    the cloud's metadata server where it runs."""
    home = tempfile.mkdtemp(prefix="ndif-ray-home-")
    with open(os.path.join(home, "ray_bootstrap_config.yaml"), "w") as f:
        f.write(BOOTSTRAP_CONFIG)
    return home


def init(**kwargs) -> None:
    """``ray.init`` of a new local Ray on loopback (never one that `ray start` left running);
    this process keeps its own home."""
    import ray

    kwargs.setdefault("address", "local")
    set_loopback_env()
    own_home = os.environ.get("HOME")
    os.environ["HOME"] = ray_home()
    try:
        ray.init(**kwargs)
    finally:
        if own_home is None:
            os.environ.pop("HOME", None)
        else:
            os.environ["HOME"] = own_home
