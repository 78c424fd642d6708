"""Researchers sending traces while parts of NDIF fail: each client sends blocking traces one
after another with nnsight's own client, and every job is accounted for. Used by the fault test
and by the load benchmark (bench/fault_load.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

import httpx

from remote_client import client_model, local_model

PROMPTS = ("The Eiffel Tower is in", "Ray Serve runs", "nnsight traces", "A key holder sends")
FINAL = ("COMPLETED", "ERROR")


@dataclass
class Outcome:
    client: int
    job_id: Optional[str]
    # COMPLETED (the right answer), ERROR (a sentence from NDIF), WRONG (an answer that differs
    # from the local model's), CLOSED (the websocket went away; the job is looked up by polling),
    # REFUSED (the request never became a job: an HTTP error answered it)
    kind: str
    reason: str
    seconds: float
    started: float


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    hanging: int = 0
    # jobs whose websocket went away, by the status their poll reached (LOST: none)
    closed_then: Counter = field(default_factory=Counter)
    wall_seconds: float = 0.0

    def kinds(self) -> Counter:
        return Counter(o.kind for o in self.outcomes)

    def errors_by_reason(self) -> Counter:
        return Counter(o.reason for o in self.outcomes if o.kind in ("ERROR", "REFUSED"))

    @property
    def lost(self) -> int:
        return self.kinds()["WRONG"] + self.closed_then["LOST"]

    def latencies(self) -> list[float]:
        return sorted(o.seconds for o in self.outcomes if o.kind == "COMPLETED")

    def percentile(self, q: float) -> float:
        values = self.latencies()
        if not values:
            return float("nan")
        return values[min(len(values) - 1, int(q * len(values)))]


def expected_hidden(tiny_model: str) -> dict:
    model = local_model(tiny_model)
    expected = {}
    for prompt in PROMPTS:
        with model.trace(prompt):
            hidden = model.transformer.h[0].output.save()
        expected[prompt] = hidden[0] if isinstance(hidden, tuple) else hidden
    return expected


def run(
    host: str,
    api_key: str,
    model_key: str,
    tiny_model: str,
    clients: int,
    seconds: float,
    faults: list[tuple[float, Callable[[], None]]] = (),
    grace: float = 120.0,
) -> Report:
    """``clients`` threads send traces for ``seconds``; each fault runs at its second. A client
    still inside a trace ``grace`` seconds after the end is hanging."""
    import torch
    from nnsight.intervention.backends.remote import RemoteBackend, RemoteError

    class Tracked(RemoteBackend):
        """nnsight's own backend, unchanged; the harness only notes the job id the POST got,
        to look the job up when its websocket goes away."""

        def _post(self, request, blob):
            response = super()._post(request, blob)
            self.job_id = response.id
            return response

    expected = expected_hidden(tiny_model)
    model = client_model(tiny_model)
    report = Report()
    lock = threading.Lock()
    begin = time.monotonic()
    deadline = begin + seconds
    busy: dict[int, bool] = {}

    def client(index: int) -> None:
        n = 0
        while time.monotonic() < deadline:
            prompt = PROMPTS[(index + n) % len(PROMPTS)]
            n += 1
            backend = Tracked(
                model_key=model_key, host=host, api_key=api_key, env=model._remoteable_get_env()
            )
            started = time.monotonic()
            busy[index] = True
            try:
                with model.trace(prompt, backend=backend):
                    hidden = model.transformer.h[0].output.save()
                hidden = hidden[0] if isinstance(hidden, tuple) else hidden
                right = torch.allclose(hidden, expected[prompt], atol=1e-5)
                kind, reason = ("COMPLETED", "") if right else ("WRONG", "a different answer")
            except RemoteError as e:
                kind, reason = "ERROR", str(e)
            except Exception as e:  # the websocket or the POST went away with its gateway replica
                job_id = getattr(backend, "job_id", None)
                kind = "CLOSED" if job_id else "REFUSED"
                reason = f"{type(e).__name__}: {e}"
            finally:
                busy[index] = False
            outcome = Outcome(
                index, getattr(backend, "job_id", None), kind, reason,
                time.monotonic() - started, started - begin,
            )
            with lock:
                report.outcomes.append(outcome)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for at, fault in sorted(faults, key=lambda f: f[0]):
        time.sleep(max(0.0, begin + at - time.monotonic()))
        fault()
    for thread in threads:
        thread.join(max(0.0, deadline + grace - time.monotonic()))
    report.wall_seconds = time.monotonic() - begin
    report.hanging = sum(1 for i, thread in enumerate(threads) if thread.is_alive() and busy.get(i))
    polls_end = time.monotonic() + grace  # one grace for all: a job that never ends is LOST
    for outcome in list(report.outcomes):
        if outcome.kind == "CLOSED":
            left = max(1.0, polls_end - time.monotonic())
            report.closed_then[final_status(host, api_key, outcome.job_id, left)] += 1
    return report


def final_status(host: str, api_key: str, job_id: str, timeout: float = 120.0) -> str:
    """The status a job ends with, polled as nnsight's non-blocking client does; LOST when the
    gateway no longer knows it or it never ends."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            answer = httpx.get(
                f"{host}/response/{job_id}", headers={"ndif-api-key": api_key}, timeout=10
            )
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.status_code == 404:
            return "LOST"
        if answer is not None and answer.status_code == 200:
            status = answer.json().get("status")
            if status in FINAL:
                return status
        time.sleep(0.5)
    return "LOST"


def kill_one(application: str, deployment: str) -> str:
    """Kills one replica of the Serve deployment (as a lost node would), for good."""
    import ray

    for actor in ray.util.list_named_actors(all_namespaces=True):
        name = actor["name"]
        if actor["namespace"] == "serve" and f"{application}#{deployment}" in name:
            ray.kill(ray.get_actor(name, namespace="serve"), no_restart=True)
            return name
    raise AssertionError(f"no replica of {application}/{deployment} to kill")


def start_redis(directory: str, password: str) -> tuple[subprocess.Popen, dict]:
    """A real Redis server (Debian's redis-server) on a free loopback port, nothing kept on disk:
    its process and the store settings that reach it (url, password_file)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (hack/debian-packages.sh redis-server installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", directory, "--requirepass", password],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    password_file = f"{directory}/password"
    with open(password_file, "w") as f:
        f.write(password + "\n")
    return process, {"url": f"redis://127.0.0.1:{port}/0", "password_file": password_file}
