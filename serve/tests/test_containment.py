"""The containment layer on this machine's kernel: each thing a key holder's code must not do,
tried in a process that contained itself, and what it must still be able to do."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

from ndif_serve.containment import landlock_abi

PROBE = textwrap.dedent(
    """
    import json, os, socket, subprocess, sys, threading, time
    import torch
    from ndif_serve.containment import Policy, contain

    model, scratch, secret, port, unix_path, parent = sys.argv[1:7]
    port = int(port)
    results = {}

    def attempt(name, action):
        try:
            value = action()
            results[name] = "ok" if value is None else value
        except BaseException as e:
            results[name] = type(e).__name__ + ": " + str(e)

    early = socket.create_connection(("127.0.0.1", port))  # opened before: the process's channel
    loose = socket.socket()  # created before, connected after: Landlock's TCP rule
    restriction = contain(Policy(read=(model,), scratch=scratch, cpu_seconds=int(os.environ.get("CPU_SECONDS", "60")),
                                 file_size_bytes=1 << 20))
    results["missing"] = list(restriction.missing)
    attempt("read_model", lambda: open(os.path.join(model, "weights.bin"), "rb").read().decode())
    attempt("write_model", lambda: open(os.path.join(model, "weights.bin"), "w").write("x"))
    attempt("new_file_in_model", lambda: open(os.path.join(model, "planted.py"), "w").write("x"))
    attempt("read_secret", lambda: open(secret).read())
    attempt("write_scratch", lambda: open(os.path.join(scratch, "out"), "w").write("fine") and None)
    attempt("write_beyond_file_size", lambda: open(os.path.join(scratch, "big"), "wb").write(b"x" * (2 << 20)))
    attempt("channel_still_works", lambda: early.sendall(b"ping"))
    attempt("connect_tcp", lambda: loose.connect(("127.0.0.1", port)))
    attempt("new_socket", lambda: socket.socket())
    attempt("unix_socket", lambda: socket.socket(socket.AF_UNIX).connect(unix_path))
    attempt("subprocess", lambda: subprocess.run(["id"], capture_output=True).stdout.decode())
    attempt("fork", lambda: os.fork())
    attempt("signal_parent", lambda: os.kill(parent and int(parent), 0))
    attempt("parent_environ", lambda: open(f"/proc/{parent}/environ").read()[:10])
    def thread_and_torch():
        out = []
        t = threading.Thread(target=lambda: out.append(float((torch.ones(64, 64) @ torch.ones(64, 64)).sum())))
        t.start(); t.join()
        return out[0]
    attempt("thread_and_torch", thread_and_torch)
    attempt("own_signal", lambda: os.kill(os.getpid(), 0))
    print(json.dumps(results))
    sys.stdout.flush()
    if os.environ.get("SPIN"):
        while True:
            pass
    """
)


@pytest.fixture
def world(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_text("w")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    secret = tmp_path / "api-keys.yaml"
    secret.write_text("keys: [{key: everyone-s-key}]")
    server = socket.create_server(("127.0.0.1", 0))
    unix_path = str(tmp_path / "raylet.sock")
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(unix_path)
    unix.listen()
    yield {
        "args": [str(model), str(scratch), str(secret), str(server.getsockname()[1]), unix_path, str(os.getpid())],
        "scratch": scratch,
        "model": model,
    }
    server.close()
    unix.close()


def run_probe(world, **env):
    return subprocess.run(
        [sys.executable, "-c", PROBE, *world["args"]],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def test_this_kernel_has_landlock_with_tcp_rules():
    assert landlock_abi() >= 4


def test_a_contained_process_reads_its_model_writes_its_scratch_and_nothing_else(world):
    run = run_probe(world)
    assert run.returncode == 0, run.stderr
    r = json.loads(run.stdout)
    assert r["missing"] == []
    assert r["read_model"] == "w"
    assert r["write_scratch"] == "ok" and (world["scratch"] / "out").read_text() == "fine"
    assert r["channel_still_works"] == "ok"
    assert r["thread_and_torch"] == 64 * 64 * 64
    assert r["own_signal"] == "ok"
    refused = {
        "write_model": "PermissionError",
        "new_file_in_model": "PermissionError",
        "read_secret": "PermissionError",
        "write_beyond_file_size": "OSError: [Errno 27] File too large",
        "connect_tcp": "PermissionError",
        "new_socket": "PermissionError",
        "unix_socket": "PermissionError",
        "subprocess": "PermissionError",
        "fork": "PermissionError",
        "signal_parent": "PermissionError",
        "parent_environ": "PermissionError",
    }
    for attempt, error in refused.items():
        assert r[attempt].startswith(error), (attempt, r[attempt])
    assert (world["model"] / "weights.bin").read_text() == "w"
    assert not (world["model"] / "planted.py").exists()


def test_cpu_time_ends_a_contained_process_even_in_a_busy_loop(world):
    run = run_probe(world, CPU_SECONDS="3", SPIN="1")
    assert run.returncode in (-9, -24), run.returncode  # SIGXCPU, then SIGKILL at the hard limit
    assert json.loads(run.stdout.splitlines()[0])["read_model"] == "w"
