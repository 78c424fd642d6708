"""What a contained process may do, and the one call that holds it to that."""

from __future__ import annotations

import os
import resource
import signal
import sys
from dataclasses import dataclass
from typing import Optional

from . import landlock, seccomp


class ContainmentError(RuntimeError):
    """The process could not be contained; it must not run the request."""


@dataclass(frozen=True)
class Policy:
    """Reads beneath ``read`` (the Python environment is always added), reads and writes beneath
    ``scratch``; the limits are per process (``None``: left as they are)."""

    read: tuple[str, ...] = ()
    scratch: Optional[str] = None
    # RLIMIT_AS: how far the address space may grow beyond what the process maps when it is
    # contained (a forked child already maps the model); on CUDA use the pod's cgroup instead.
    extra_memory_bytes: Optional[int] = None
    cpu_seconds: Optional[int] = None  # RLIMIT_CPU: SIGXCPU, then SIGKILL a second later
    open_files: Optional[int] = 256
    file_size_bytes: Optional[int] = None  # RLIMIT_FSIZE: writes beyond fail with EFBIG


def python_paths() -> list[str]:
    """Where this interpreter reads its code: its prefixes (the standard library and the
    environment's site-packages), not other sys.path entries such as the working directory, which
    may hold anything. What comes from elsewhere must be imported before containing."""
    return sorted({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})


# What Python, torch and the C library read besides their own files: devices, the shared
# library cache and locale files, CPU topology; no /proc/<pid> of another process (Landlock's
# ptrace rules refuse its environ, mem and fds even so).
SYSTEM_READS = ("/dev/null", "/dev/urandom", "/etc/ld.so.cache", "/etc/localtime",
                "/usr/lib/locale", "/usr/share/zoneinfo", "/sys/devices/system/cpu",
                "/proc/self", "/proc/thread-self", "/proc/cpuinfo", "/proc/meminfo")


def _limit(kind: int, value: Optional[int]) -> None:
    if value is None:
        return
    soft, hard = resource.getrlimit(kind)
    new_hard = value if hard == resource.RLIM_INFINITY else min(value, hard)
    resource.setrlimit(kind, (min(value, new_hard), new_hard))


def _mapped_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise OSError("/proc/self/status has no VmSize")


def contain(policy: Policy) -> landlock.Restriction:
    """Holds this process to ``policy`` for the rest of its life: limits, then Landlock, then
    seccomp. Raises ContainmentError (the caller must then not run the request) when the kernel
    cannot do it."""
    try:
        _limit(resource.RLIMIT_CORE, 0)
        _limit(resource.RLIMIT_NOFILE, policy.open_files)
        if policy.extra_memory_bytes is not None:
            _limit(resource.RLIMIT_AS, _mapped_bytes() + policy.extra_memory_bytes)
        _limit(resource.RLIMIT_CPU, policy.cpu_seconds)
        if policy.file_size_bytes is not None:
            # EFBIG instead of a signal that ends the process.
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            _limit(resource.RLIMIT_FSIZE, policy.file_size_bytes)
        read = [*python_paths(), *SYSTEM_READS, *policy.read]
        write = [policy.scratch] if policy.scratch else []
        filters = seccomp.library()
        restriction = landlock.restrict(read, write)
        seccomp.install(filters)
    except (OSError, ValueError) as e:
        raise ContainmentError(f"this process cannot be contained: {e}") from e
    if policy.scratch:
        os.environ["TMPDIR"] = policy.scratch
    return restriction
