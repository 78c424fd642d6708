#!/usr/bin/env python3
"""Runs a command and fails if any process it started connects outside loopback.

    hack/netwatch.py [--interval SECONDS] [--report FILE] -- COMMAND [ARGS...]

Every interval (200 ms by default) the TCP sockets of this network namespace are read with
`ss -tanHep` (established and attempted connections, with the processes that hold them). A
connection counts when one of the processes holding it descends from the command: the watcher
makes itself a child subreaper, so a process whose parent exited (a daemon, `setsid ... &`) stays
in its tree. When the command ends, one line says how many connections of the run were seen and
whether any left loopback (127.0.0.0/8, ::1); each one that did is named with its process, command
line and address, and the watcher exits with 3 (or the command's own non-zero status).

Sockets in other network namespaces are not listed by `ss` here: that is the point of them.
Sampling misses a connection that opens and closes between two samples; a connection attempt to
an address with no route answers at once, one to a silent address stays in SYN-SENT for seconds.
"""

from __future__ import annotations

import argparse
import ctypes
import ipaddress
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

PR_SET_CHILD_SUBREAPER = 36
IGNORED_STATES = {"LISTEN", "UNCONN", "TIME-WAIT"}
_USERS = re.compile(r'\("((?:[^"\\]|\\.)*)",pid=(\d+),fd=\d+\)')
_INODE = re.compile(r"\bino:(\d+)")


@dataclass(frozen=True)
class Connection:
    state: str
    local: str
    peer: str
    inode: int
    holders: tuple[tuple[str, int], ...]  # (command name, pid)

    @property
    def peer_host(self) -> str:
        return split_host(self.peer)

    def leaves_loopback(self) -> bool:
        return not is_loopback(self.peer_host)


def split_host(address: str) -> str:
    """The host of `ss`'s `host:port`, `[v6]:port` or `v4%iface:port`."""
    host = address.rsplit(":", 1)[0]
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host.split("%", 1)[0]


def is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def parse_ss(text: str) -> list[Connection]:
    """Connections from `ss -tanHep` output; listening and unconnected sockets are left out."""
    connections = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[0] in IGNORED_STATES:
            continue
        rest = " ".join(fields[5:])
        inode = _INODE.search(rest)
        holders = tuple((name, int(pid)) for name, pid in _USERS.findall(rest))
        connections.append(
            Connection(fields[0], fields[3], fields[4], int(inode.group(1)) if inode else 0, holders)
        )
    return connections


def read_parents(proc: str = "/proc") -> dict[int, int]:
    """Every process's parent, from /proc/PID/stat (the command name may hold spaces and ')')."""
    parents = {}
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        after_name = stat[stat.rfind(b")") + 2 :].split()
        if len(after_name) >= 2:
            parents[int(entry)] = int(after_name[1])
    return parents


def descendants(root: int, parents: dict[int, int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), ()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


@dataclass
class Offence:
    connection: Connection
    name: str
    pid: int
    command_line: str
    first_seen: float


@dataclass
class Watch:
    """What the samples found: connections of the run's processes, and those that left loopback."""

    root: int
    seen: set[tuple[int, str, str]] = field(default_factory=set)
    offences: dict[tuple[int, str, str], Offence] = field(default_factory=dict)
    processes: set[int] = field(default_factory=set)
    samples: int = 0
    failed_samples: int = 0

    def observe(self, connections: list[Connection], parents: dict[int, int], now: float) -> None:
        self.samples += 1
        ours = descendants(self.root, parents)
        self.processes |= ours
        for connection in connections:
            held = [(name, pid) for name, pid in connection.holders if pid in ours]
            if not held:
                continue
            key = (connection.inode, connection.local, connection.peer)
            self.seen.add(key)
            if connection.leaves_loopback() and key not in self.offences:
                name, pid = held[0]
                self.offences[key] = Offence(connection, name, pid, command_line(pid), now)

    def blind(self) -> bool:
        """Too many samples failed for the watch to mean anything."""
        return self.failed_samples * 10 > self.samples + self.failed_samples

    def summary(self) -> str:
        head = (
            f"netwatch: {len(self.seen)} connections of this run's processes seen in"
            f" {self.samples} samples ({len(self.processes)} processes)"
        )
        if self.failed_samples:
            head += f"; {self.failed_samples} samples failed (ss did not answer)"
        if self.blind():
            return head + "; the watch is blind, so the run fails"
        if not self.offences:
            return head + "; none left loopback (127.0.0.0/8, ::1)"
        lines = [head + f"; {len(self.offences)} left loopback:"]
        for offence in sorted(self.offences.values(), key=lambda o: o.first_seen):
            c = offence.connection
            lines.append(
                f"  {offence.name} (pid {offence.pid}: {offence.command_line}) -> {c.peer}"
                f" [{c.state}] from {c.local}, first seen"
                f" {time.strftime('%H:%M:%S', time.localtime(offence.first_seen))}"
            )
        return "\n".join(lines)


def command_line(pid: int, limit: int = 300) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            text = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"
    return text if len(text) <= limit else text[:limit] + "..."


def sample_ss() -> str:
    return subprocess.run(
        ["ss", "-tanHep"], capture_output=True, text=True, check=True, timeout=10
    ).stdout


def observe(watch: Watch) -> None:
    try:
        text = sample_ss()
    except (OSError, subprocess.SubprocessError):
        watch.failed_samples += 1
        return
    watch.observe(parse_ss(text), read_parents(), time.time())


def become_subreaper() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def run(command: list[str], interval: float, report: str | None) -> int:
    if subprocess.run(["ss", "-V"], capture_output=True).returncode != 0:
        print("netwatch: ss (iproute2) is needed to watch connections", file=sys.stderr)
        return 2
    become_subreaper()
    child = subprocess.Popen(command)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda s, _f: child.send_signal(s))
    watch = Watch(os.getpid())
    status = None
    while status is None:
        observe(watch)
        deadline = time.monotonic() + interval
        while status is None and time.monotonic() < deadline:
            # Orphans of the run are ours now: reap them, and notice the command's own end.
            try:
                pid, wait_status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                pid, wait_status = 0, 0
            if pid == child.pid:
                status = os.waitstatus_to_exitcode(wait_status)
            elif child.returncode is not None:
                # Popen.send_signal (the forwarding above) polls, and so reaps, a child that ended.
                status = child.returncode
            elif pid == 0:
                time.sleep(0.02)
    observe(watch)
    summary = watch.summary()
    print(summary, file=sys.stderr)
    if report:
        with open(report, "w") as f:
            f.write(summary + "\n")
    if status < 0:
        status = 128 - status
    if status != 0:
        return status
    return 3 if watch.offences else 4 if watch.blind() else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description="Run COMMAND; fail if a process it started connects outside loopback."
    )
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between samples")
    parser.add_argument("--report", help="also write the summary to this file")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is needed: hack/netwatch.py -- COMMAND [ARGS...]")
    return run(command, args.interval, args.report)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
