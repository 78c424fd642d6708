"""A seccomp filter, built with libseccomp (through ctypes: the library every distribution ships
for it), that refuses with EPERM what contained code must not do: run programs, start processes
(threads are allowed: ``clone`` with CLONE_THREAD), create sockets, trace or read other
processes, signal another process, mount, load BPF, change namespaces or keyrings. ``clone3``
answers ENOSYS so that libc falls back to ``clone``, whose flags a filter can read."""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

_ACT_ALLOW = 0x7FFF0000
_CLONE_THREAD = 0x00010000
_CMP_NE, _CMP_MASKED_EQ = 1, 7

DENIED = (
    "execve",
    "execveat",
    "fork",
    "vfork",
    "socket",
    "socketpair",
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "pidfd_open",
    "mount",
    "umount2",
    "move_mount",
    "open_tree",
    "fsopen",
    "pivot_root",
    "chroot",
    "unshare",
    "setns",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "init_module",
    "finit_module",
    "tkill",
)


class SeccompUnavailable(OSError):
    """libseccomp is missing, or the kernel refused the filter."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


def library():
    """libseccomp, loaded while the process may still open it (before Landlock)."""
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError:
        name = ctypes.util.find_library("seccomp")
        if name is None:
            raise SeccompUnavailable(errno.ENOENT, "libseccomp is not installed") from None
        lib = ctypes.CDLL(name, use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def install(lib) -> None:
    """Loads the filter into this process for good (no_new_privs is set by Landlock first)."""
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable(errno.ENOMEM, "seccomp_init failed")
    try:

        def rule(action: int, name: str, *comparisons: _ArgCmp) -> None:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number < 0:
                return  # not a system call of this architecture
            array = (_ArgCmp * len(comparisons))(*comparisons) if comparisons else None
            result = lib.seccomp_rule_add_array(ctx, action, number, len(comparisons), array)
            if result < 0:
                raise SeccompUnavailable(-result, f"seccomp rule for {name}: {os.strerror(-result)}")

        eperm = _errno_action(errno.EPERM)
        for name in DENIED:
            rule(eperm, name)
        rule(_errno_action(errno.ENOSYS), "clone3")
        # A new process, not a thread.
        rule(eperm, "clone", _ArgCmp(0, _CMP_MASKED_EQ, _CLONE_THREAD, 0))
        # Signals to this process only.
        me = os.getpid()
        rule(eperm, "kill", _ArgCmp(0, _CMP_NE, me, 0))
        rule(eperm, "tgkill", _ArgCmp(0, _CMP_NE, me, 0))
        rule(eperm, "pidfd_send_signal")
        result = lib.seccomp_load(ctx)
        if result < 0:
            raise SeccompUnavailable(-result, f"seccomp_load: {os.strerror(-result)}")
    finally:
        lib.seccomp_release(ctx)
