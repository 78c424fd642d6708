"""Running each request in a process that no later request uses: a zygote holds what requests
need (the model, loaded once) and forks one child per request; the child contains itself
(:func:`contain`), runs the request, sends its answer and exits, so whatever the request changed
(weights, modules, monkeypatches, threads, files in its scratch) ends with it.

The zygote is a fresh interpreter (``spawn``, never a fork of the caller: a Ray worker has
threads, a token in its environment and sockets to Ray), started with an allow-listed
environment, and keeps itself single-threaded (torch's intra-op pool is not fork-safe). The
caller and the zygote speak length-prefixed frames over the zygote's stdin and stdout; an answer
is a JSON header and raw bytes, so the caller never unpickles anything a request produced.

On the CPU only: CUDA cannot follow a fork; a GPU runner needs another design.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

from .policy import Policy, contain

# What a zygote's environment may hold: nothing that grants access (tokens, keys, Ray's address).
ENV_ALLOWED = ("PATH", "LANG", "LC_ALL", "HOME", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE",
               "PYTHONPATH", "VIRTUAL_ENV", "TZ")


@dataclass(frozen=True)
class Answer:
    status: str  # "COMPLETED" or "ERROR"
    description: str = ""
    result: bytes = b""


def _write_frame(stream, header: dict, body: bytes = b"") -> None:
    data = json.dumps(header).encode()
    stream.write(struct.pack(">II", len(data), len(body)) + data + body)
    stream.flush()


def _read_exact(stream, size: int) -> bytes:
    chunks = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            raise EOFError("the other side closed the channel")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(stream) -> tuple[dict, bytes]:
    head_size, body_size = struct.unpack(">II", _read_exact(stream, 8))
    return json.loads(_read_exact(stream, head_size)), _read_exact(stream, body_size)


def _resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


class ContainedRunner:
    """The caller's side: starts a zygote, hands it requests one at a time."""

    def __init__(self, load: str, handle: str, policy: Policy, load_args: Optional[dict] = None):
        """``load`` and ``handle`` are ``module:function`` paths: ``load(**load_args)`` runs once
        in the zygote; ``handle(loaded, payload: bytes) -> bytes`` runs in each contained child."""
        env = {k: v for k, v in os.environ.items() if k in ENV_ALLOWED}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        config = {"load": load, "handle": handle, "load_args": load_args or {},
                  "policy": asdict(policy)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ndif_serve.containment.runner"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
        )
        _write_frame(self.process.stdin, config)
        try:
            header, _ = _read_frame(self.process.stdout)
        except EOFError:
            code = self.process.wait()
            raise RuntimeError(f"the zygote exited before it was ready (exit status {code})") from None
        if header.get("status") != "READY":
            raise RuntimeError(f"the zygote did not start: {header.get('description')}")

    def run(self, payload: bytes, timeout_seconds: float) -> Answer:
        _write_frame(self.process.stdin, {"timeout": timeout_seconds}, payload)
        header, body = _read_frame(self.process.stdout)
        return Answer(header["status"], header.get("description", ""), body)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class _Spare:
    """A child forked and contained ahead of its request, waiting for the payload."""

    pid: int
    payload_fd: int  # the zygote writes the payload here, then closes it
    answer_fd: int  # the child writes its answer here
    scratch: str


def _fork_spare(handle: Callable, loaded, policy: Policy) -> _Spare:
    scratch = tempfile.mkdtemp(prefix="ndif-request-")
    payload_read, payload_write = os.pipe()
    answer_read, answer_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(payload_write)
        os.close(answer_read)
        _child(handle, loaded, policy, scratch, payload_read, answer_write)
    os.close(payload_read)
    os.close(answer_write)
    return _Spare(pid, payload_write, answer_read, scratch)


def _child(
    handle: Callable, loaded, policy: Policy, scratch: str, payload_fd: int, answer_fd: int
) -> None:
    """In the fork: contain, wait for the payload, run, answer, exit; never returns."""
    status, description, result = "ERROR", "", b""
    try:
        contain(Policy(**{**asdict(policy), "scratch": scratch}))
        with os.fdopen(payload_fd, "rb") as source:
            payload = source.read()
        result = handle(loaded, payload)
        status = "COMPLETED"
    except BaseException as e:  # the request's own failure is its answer
        description = f"{type(e).__name__}: {e}"
    with os.fdopen(answer_fd, "wb") as out:
        try:
            _write_frame(out, {"status": status, "description": description}, result or b"")
        except BaseException:
            pass
    os._exit(0)


def _serve() -> None:
    """The zygote: load once, then keep one contained child ready for the next request."""
    channel_in, channel_out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # what the zygote or a child prints must not corrupt the channel
    config, _ = _read_frame(channel_in)
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    policy = Policy(**{**config["policy"], "read": tuple(config["policy"]["read"])})
    try:
        loaded = _resolve(config["load"])(**config["load_args"])
        handle = _resolve(config["handle"])
    except BaseException as e:
        _write_frame(channel_out, {"status": "FAILED", "description": f"{type(e).__name__}: {e}"})
        return
    _write_frame(channel_out, {"status": "READY"})
    spare = _fork_spare(handle, loaded, policy)
    while True:
        try:
            request, payload = _read_frame(channel_in)
        except EOFError:
            os.kill(spare.pid, signal.SIGKILL)
            os.waitpid(spare.pid, 0)
            shutil.rmtree(spare.scratch, ignore_errors=True)
            return
        current = spare
        try:
            with os.fdopen(current.payload_fd, "wb") as sink:
                sink.write(payload)
        except BrokenPipeError:
            pass  # the child is gone; its exit is the answer
        answer = _await_child(current.pid, current.answer_fd, float(request["timeout"]))
        _write_frame(channel_out, *answer)
        # Off the answer's path: the child's exit (tearing down its copy of the address space),
        # and forking and containing the next one.
        _reap(current.pid)
        spare = _fork_spare(handle, loaded, policy)
        shutil.rmtree(current.scratch, ignore_errors=True)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # reaped already (it died before answering)


def _await_child(pid: int, read_fd: int, timeout: float) -> tuple[dict, bytes]:
    deadline = time.monotonic() + timeout
    data = bytearray()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return ({"status": "ERROR", "description":
                         f"Your job exceeded the execution timeout of {timeout:g} s and was stopped."}, b"")
            ready, _, _ = select.select([pipe], [], [], remaining)
            if ready:
                chunk = pipe.read(1 << 20)
                if not chunk:
                    break
                data.extend(chunk)
    if len(data) < 8:
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        reason = f"signal {-code}" if code < 0 else f"exit status {code}"
        return {"status": "ERROR", "description": f"The process running your job ended ({reason})."}, b""
    return _read_frame(io.BytesIO(bytes(data)))


if __name__ == "__main__":
    _serve()
