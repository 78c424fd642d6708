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
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable, Optional

from .policy import Policy, contain

# What a child may send: its header is small; its result is bounded like the gateway's results.
MAX_HEADER_BYTES = 1 << 20
MAX_RESULT_BYTES = 2 << 30

# What a zygote's environment may hold: nothing that grants access (tokens, keys, Ray's address).
ENV_ALLOWED = ("PATH", "LANG", "LC_ALL", "HOME", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE",
               "TRANSFORMERS_OFFLINE",
               "PYTHONPATH", "VIRTUAL_ENV", "TZ")


@dataclass(frozen=True)
class Answer:
    status: str  # "COMPLETED" or "ERROR"
    description: str = ""
    result: bytes = b""
    # The zygote cannot run another request (it died or could not fork); the caller starts anew.
    fatal: bool = False


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

    def __init__(
        self,
        load: str,
        handle: str,
        policy: Policy,
        load_args: Optional[dict] = None,
        describe: Optional[str] = None,
        pass_fds: tuple[int, ...] = (),
    ):
        """``load``, ``handle`` and ``describe`` are ``module:function`` paths. ``load(**load_args)``
        runs once in the zygote; ``describe(loaded) -> dict`` (JSON) once after it, as ``info``;
        ``handle(loaded, request: dict, payload: bytes, log: Callable[[str], None]) -> Answer``
        runs in each contained child, ``log`` sending a line to the caller as it is written."""
        env = {k: v for k, v in os.environ.items() if k in ENV_ALLOWED}
        env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        config = {"load": load, "handle": handle, "describe": describe,
                  "load_args": load_args or {}, "policy": asdict(policy)}
        self._lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ndif_serve.containment.runner"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
            pass_fds=pass_fds,
        )
        _write_frame(self.process.stdin, config)
        try:
            header, _ = _read_frame(self.process.stdout)
        except EOFError:
            code = self.process.wait()
            raise RuntimeError(f"the zygote exited before it was ready (exit status {code})") from None
        if header.get("status") != "READY":
            self.close()
            raise RuntimeError(f"the zygote did not start: {header.get('description')}")
        self.info: dict = header.get("info") or {}

    @property
    def pid(self) -> int:
        return self.process.pid

    def run(
        self,
        payload: bytes,
        timeout_seconds: float,
        request: Optional[dict] = None,
        on_log: Callable[[str], None] = lambda line: None,
    ) -> Answer:
        """Runs one request in a contained child; ``on_log`` gets each line it logs, as it comes.
        Never raises for what the request did; a zygote that is gone is a fatal answer."""
        with self._lock:
            try:
                _write_frame(self.process.stdin, {"timeout": timeout_seconds, "request": request or {}},
                             payload)
                while True:
                    header, body = _read_frame(self.process.stdout)
                    if header["status"] != "LOG":
                        return Answer(header["status"], header.get("description", ""), body,
                                      bool(header.get("fatal")))
                    on_log(header.get("description", ""))
            except (EOFError, BrokenPipeError, OSError):
                code = self.process.poll()
                return Answer("ERROR", "The process that runs jobs on this replica stopped"
                              f" ({'exit status ' + str(code) if code is not None else 'its channel broke'});"
                              " this replica is restarting.", fatal=True)

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
    request_fd: int  # the zygote writes the request frame here, then closes it
    answer_fd: int  # the child writes its LOG frames and its answer here
    scratch: str


def _fork_spare(handle: Callable, loaded, policy: Policy) -> _Spare:
    scratch = tempfile.mkdtemp(prefix="ndif-request-")
    request_read, request_write = os.pipe()
    answer_read, answer_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(request_write)
        os.close(answer_read)
        _child(handle, loaded, policy, scratch, request_read, answer_write)
    os.close(request_read)
    os.close(answer_write)
    return _Spare(pid, request_write, answer_read, scratch)


def _child(
    handle: Callable, loaded, policy: Policy, scratch: str, request_fd: int, answer_fd: int
) -> None:
    """In the fork: contain, wait for the request, run, answer, exit; never returns."""
    # The zygote's channel to the caller is fds 0 and 1: the request's code must neither read the
    # next caller's request from it nor write an answer into it.
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    out = os.fdopen(answer_fd, "wb")

    def log(line: str) -> None:
        _write_frame(out, {"status": "LOG", "description": line})

    try:
        contain(replace(policy, scratch=scratch))
        with os.fdopen(request_fd, "rb") as source:
            request, payload = _read_frame(source)
        answer = handle(loaded, request, payload, log)
        header = {"status": answer.status, "description": answer.description}
        body = answer.result or b""
    except BaseException as e:  # the request's own failure is its answer
        header, body = {"status": "ERROR", "description": f"{type(e).__name__}: {e}"}, b""
    try:
        _write_frame(out, header, body)
        out.close()
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
        info = _resolve(config["describe"])(loaded) if config.get("describe") else {}
    except BaseException as e:
        _write_frame(channel_out, {"status": "FAILED", "description": f"{type(e).__name__}: {e}"})
        return
    _write_frame(channel_out, {"status": "READY", "info": info})
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
            with os.fdopen(current.request_fd, "wb") as sink:
                _write_frame(sink, request.get("request", {}), payload)
        except BrokenPipeError:
            pass  # the child is gone; its exit is the answer
        header, body = _relay_child(current.pid, current.answer_fd, float(request["timeout"]),
                                    channel_out)
        _write_frame(channel_out, header, body)
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


def _relay_child(pid: int, read_fd: int, timeout: float, channel_out) -> tuple[dict, bytes]:
    """Forwards the child's LOG frames to the caller as they come; returns its answer, or an
    ERROR when it ran past ``timeout`` (killed: even a C call ends), died without one, or sent
    what is not a well-formed answer (the child runs the caller's code: nothing it writes may
    stop the zygote)."""
    deadline = time.monotonic() + timeout
    data = bytearray()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _stop_child(
                    pid, f"Your job exceeded the execution timeout of {timeout:g} s and was stopped."
                )
            ready, _, _ = select.select([pipe], [], [], remaining)
            if not ready:
                continue
            chunk = pipe.read(1 << 20)
            if not chunk:
                break
            data.extend(chunk)
            while len(data) >= 8:
                head_size, body_size = struct.unpack(">II", data[:8])
                if head_size > MAX_HEADER_BYTES or body_size > MAX_RESULT_BYTES:
                    return _stop_child(
                        pid,
                        f"Your job's result is larger than {MAX_RESULT_BYTES} bytes, the limit.",
                    )
                end = 8 + head_size + body_size
                if len(data) < end:
                    break
                try:
                    header = json.loads(bytes(data[8:8 + head_size]))
                    status = header["status"]
                    if status not in ("LOG", "COMPLETED", "ERROR"):
                        raise ValueError(status)
                    header = {"status": status, "description": str(header.get("description", ""))}
                except (ValueError, KeyError, TypeError):
                    return _stop_child(pid, "The process running your job sent an unreadable answer.")
                body = bytes(data[8 + head_size:end])
                del data[:end]
                if status != "LOG":
                    return header, body
                _write_frame(channel_out, header)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    reason = f"signal {-code}" if code < 0 else f"exit status {code}"
    return {"status": "ERROR", "description": f"The process running your job ended ({reason})."}, b""


def _stop_child(pid: int, description: str) -> tuple[dict, bytes]:
    os.kill(pid, signal.SIGKILL)
    _reap(pid)
    return {"status": "ERROR", "description": description}, b""


if __name__ == "__main__":
    _serve()
