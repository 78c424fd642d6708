"""Running one nnsight request against a loaded model, the way NDIF's model actor does, with no Ray
and no HTTP in it: set the request's env, deserialize against the model's persistent objects,
execute on one worker thread, collect the saves, serialize them for the client, clean up."""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import gc
import io
import linecache
import logging
import pickle
import queue
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

logger = logging.getLogger("ndif_serve")

# CUDA errors after which the process cannot be trusted with another request (NDIF restarts the
# replica on the same two).
FATAL_CUDA_ERRORS = ("device-side assert triggered", "an illegal memory access was encountered")

# How long a timed-out request may take to unwind after its interrupt before the replica is
# declared stuck (a running kernel or C call is not interruptible).
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Request:
    """One nnsight request as the gateway hands it to a replica."""

    id: str
    payload: bytes
    compress: bool = True
    env: dict[str, Any] = field(default_factory=dict)


@dataclass
class Outcome:
    """What became of a request: ``COMPLETED`` with the result blob, or ``ERROR`` with a
    description for the user; ``meta`` is what the run cost."""

    status: str
    result: Optional[bytes] = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    # The process must not run another request (fatal CUDA error, or work that did not stop).
    fatal: bool = False


class RequestError(Exception):
    """A request that cannot run, reported to the user as its bare sentence."""


class _Interrupted(BaseException):
    """Raised inside the worker thread to stop a request past its execution timeout."""


def _cpu_pickle_module():
    """A ``pickle`` clone whose Pickler moves tensors off the GPU, for ``torch.save``."""

    class CpuPickler(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, torch.Tensor) and obj.device.type != "cpu":
                return obj.detach().to("cpu").__reduce_ex__(pickle.DEFAULT_PROTOCOL)
            return NotImplemented

    module = type(sys)("ndif_cpu_pickle")
    module.__dict__.update({k: getattr(pickle, k) for k in dir(pickle) if not k.startswith("__")})
    module.Pickler = CpuPickler
    return module


_CPU_PICKLE = _cpu_pickle_module()


def serialize_result(saved: dict[str, Any], compress: bool) -> bytes:
    """The result blob the client's ``finalize`` reads: ``torch.save`` of the saves with tensors on
    the CPU, zstd-compressed in one shot (the content size in the frame) when asked."""
    buffer = io.BytesIO()
    torch.save(saved, buffer, pickle_module=_CPU_PICKLE)
    data = buffer.getvalue()
    if compress:
        import zstandard

        data = zstandard.ZstdCompressor(level=3).compress(data)
    return data


class _LineStream(io.TextIOBase):
    """Stands in for sys.stdout/sys.stderr: what the request's thread writes becomes one callback
    per complete line; every other thread still writes to the real stream."""

    def __init__(self, original, thread_id: int, on_line: Callable[[str], None]):
        self._original = original
        self._thread_id = thread_id
        self._on_line = on_line
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if threading.get_ident() != self._thread_id:
            return self._original.write(text)
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._on_line(line)
        return len(text)

    def flush(self) -> None:
        if threading.get_ident() != self._thread_id:
            self._original.flush()

    def close_partial(self) -> None:
        if self._partial:
            self._on_line(self._partial)
            self._partial = ""


class RequestExecutor:
    """Runs requests one at a time against one nnsight model, each on the same worker thread
    (nnsight's saved set, depth counter and autocast state are per thread)."""

    def __init__(self, model: Any, timeout_seconds: Optional[float] = None):
        self.model = model
        self.timeout_seconds = timeout_seconds
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="nnsight-request", daemon=True)
        self._worker.start()
        self.stuck: Optional[str] = None

    def _work(self) -> None:
        # An interrupt that lands after its request finished (or while waiting) is dropped here.
        while True:
            try:
                function, args, future = self._jobs.get()
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(function(*args))
                    except BaseException as e:
                        future.set_exception(e)
            except _Interrupted:
                continue

    @property
    def cuda(self) -> bool:
        return torch.cuda.is_available() and _model_device(self.model).type == "cuda"

    def run(self, request: Request, on_log: Callable[[str], None] = lambda line: None) -> Outcome:
        """Runs one request to its outcome; never raises for anything the request did."""
        with self._lock:
            if self.stuck:
                return Outcome("ERROR", description=self.stuck, fatal=True)
            started = time.monotonic()
            baselines = self._gpu_baselines()
            future: concurrent.futures.Future = concurrent.futures.Future()
            self._jobs.put((self._execute, (request, on_log), future))
            try:
                outcome = future.result(timeout=self.timeout_seconds)
            except concurrent.futures.TimeoutError:
                outcome = self._stop(future)
            outcome.meta = self._meta(started, baselines)
            logger.info(
                "request %s: %s in %.4f s", request.id, outcome.status, outcome.meta["runtime"]
            )
            return outcome

    def _stop(self, future: concurrent.futures.Future) -> Outcome:
        message = (
            "Your job exceeded the execution timeout of"
            f" {self.timeout_seconds:g} s and was stopped."
        )
        if not future.done():
            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                ctypes.c_ulong(self._worker.ident), ctypes.py_object(_Interrupted)
            )
        try:
            future.result(timeout=STOP_GRACE_SECONDS)
        except concurrent.futures.TimeoutError:
            self.stuck = (
                f"A job exceeded the execution timeout of {self.timeout_seconds:g} s and could not"
                " be stopped; this replica is restarting."
            )
            logger.error(self.stuck)
            return Outcome("ERROR", description=message, fatal=True)
        except BaseException:  # the interrupt, or what unwinding raised
            pass
        return Outcome("ERROR", description=message)

    def _execute(self, request: Request, on_log: Callable[[str], None]) -> Outcome:
        return execute(self.model, request, on_log, cuda=self.cuda)

    def _gpu_baselines(self) -> dict[int, int]:
        if not self.cuda:
            return {}
        baselines = {}
        for index in range(torch.cuda.device_count()):
            torch.cuda.reset_peak_memory_stats(index)
            baselines[index] = torch.cuda.memory_allocated(index)
        return baselines

    def _meta(self, started: float, baselines: dict[int, int]) -> dict[str, Any]:
        peaks = {
            str(index): max(0, torch.cuda.max_memory_allocated(index) - base)
            for index, base in baselines.items()
        }
        return {
            "runtime": round(time.monotonic() - started, 4),
            "max_mem_by_gpu": peaks,
            "max_memory_usage": max(peaks.values(), default=0),
        }


def execute(
    model: Any, request: Request, on_log: Callable[[str], None], cuda: bool = False
) -> Outcome:
    """Runs one request on the calling thread (what it prints on that thread goes to ``on_log``)
    and puts the process's nnsight state back; never raises for anything the request did."""
    from nnsight.tracing import globals as nnsight_globals

    lines = linecache.cache.copy()
    sources = nnsight_globals.SOURCES.copy()
    blocks = nnsight_globals.BLOCKS.copy()
    stdout, stderr = sys.stdout, sys.stderr
    out = _LineStream(stdout, threading.get_ident(), on_log)
    err = _LineStream(stderr, threading.get_ident(), on_log)
    sys.stdout, sys.stderr = out, err
    user_file = None
    mounted = _mount_save()
    try:
        tracer = _deserialize(model, request)
        user_file = tracer.info.frame.f_code.co_filename
        saved = _trace(model, tracer, cuda)
        return Outcome("COMPLETED", result=serialize_result(saved, request.compress))
    except _Interrupted:
        return Outcome("ERROR", description="interrupted")
    except RequestError as e:
        return Outcome("ERROR", description=str(e))
    except BaseException as e:
        description = describe_error(e, user_file)
        return Outcome("ERROR", description=description, fatal=_is_fatal_cuda(description))
    finally:
        if mounted:
            _unmount_save()
        out.close_partial()
        err.close_partial()
        sys.stdout, sys.stderr = stdout, stderr
        _clean(model, lines, sources, blocks, cuda)


def _deserialize(model: Any, request: Request):
    from nnsight.schema.request import RequestModel

    try:
        model._remoteable_set_env(request.env or {})
    except Exception as e:
        raise RequestError(f"The model cannot run with this request's env: {e}") from e
    persistent = model._remoteable_persistent_objects()
    try:
        return RequestModel.deserialize(request.payload, persistent, compress=request.compress)
    except Exception as e:
        raise RequestError(
            f"Your request could not be deserialized on the server ({type(e).__name__}: {e});"
            " the client's nnsight, its model class or the modules it uses may not match the"
            " server's (compare them with nnsight.compare())."
        ) from e


def _trace(model: Any, tracer, cuda: bool) -> dict[str, Any]:
    from nnsight.tracing.tracer import _saves, dec, inc

    inc()
    try:
        with _autocast(model, cuda):
            tracer.execute(tracer.info.code)
        saves = _saves()
        return {
            name: value
            for name, value in tracer.info.frame.f_locals.items()
            if id(value) in saves
        }
    finally:
        dec()


def _autocast(model: Any, cuda: bool):
    dtype = next(model._module.parameters()).dtype
    return torch.autocast(
        "cuda",
        dtype=dtype,
        enabled=cuda and dtype in (torch.float16, torch.bfloat16),
        cache_enabled=False,
    )


def _clean(model: Any, lines: dict, sources: dict, blocks: dict, cuda: bool) -> None:
    from nnsight.tracing import globals as nnsight_globals

    # A later request from the same client file and line would otherwise run a stale block.
    linecache.cache.clear()
    linecache.cache.update(lines)
    nnsight_globals.SOURCES.clear()
    nnsight_globals.SOURCES.update(sources)
    nnsight_globals.BLOCKS.clear()
    nnsight_globals.BLOCKS.update(blocks)
    try:
        model.interleaver.cancel()
    except Exception:
        logger.exception("cancelling the interleaver after a request failed")
    if cuda:
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def describe_error(error: BaseException, user_file: Optional[str]) -> str:
    """The traceback the user sees: only the frames of their own block (its source lines come
    from linecache, where deserialization registered them), else without nnsight's and ours."""
    from nnsight.tracing.util import clean_traceback, filter_traceback

    tb = error.__traceback__
    if user_file is not None:
        own = filter_traceback(tb, lambda frame: frame.f_code.co_filename == user_file)
        tb = own if own is not None else clean_traceback(tb)
    else:
        tb = clean_traceback(tb)
    tb = filter_traceback(tb, lambda frame: frame.f_code.co_filename != __file__)
    return "".join(traceback.format_exception(type(error), error, tb)).rstrip()


def _mount_save() -> bool:
    """Puts nnsight's ``.save()`` on every object while a request runs, as a client's nnsight has
    it, unless the process already has it. Serving processes keep it off otherwise (nnsight.yaml:
    PYMOUNT false), since it confuses libraries that inspect attributes, anyio among them."""
    if hasattr(object, "save"):
        return False
    import nnsight
    from nnsight._c import mount

    if mount is None:
        return False
    mount(nnsight.save, "save")
    return True


def _unmount_save() -> None:
    from nnsight._c import unmount

    unmount("save")


@contextlib.contextmanager
def without_mounted_save():
    """Takes nnsight's ``.save`` off every object for the block, if it is on, and puts it back."""
    if not hasattr(object, "save"):
        yield
        return
    import nnsight
    from nnsight._c import mount

    _unmount_save()
    try:
        yield
    finally:
        mount(nnsight.save, "save")


def _is_fatal_cuda(description: str) -> bool:
    return any(marker in description for marker in FATAL_CUDA_ERRORS)


def _model_device(model: Any) -> torch.device:
    first = next(model._module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")
