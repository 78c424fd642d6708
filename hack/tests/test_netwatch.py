"""The connection watcher of hack/test.sh, on recorded `ss` output and on live connections made
inside a throwaway network namespace (to an address that exists only there)."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

HACK = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HACK))

import netwatch  # noqa: E402

RECORDED = textwrap.dedent(
    """\
    LISTEN 0      4096   127.0.0.1:17001      0.0.0.0:*     users:(("kube-apiserver",pid=200,fd=7)) ino:1001 sk:1 cgroup:/ <->
    ESTAB  0      0      127.0.0.1:40710    127.0.0.1:17001 users:(("java",pid=300,fd=45)) ino:1002 sk:2 cgroup:/ <->
    ESTAB  0      0      192.0.2.2:40711   10.244.0.1:8265  users:(("java",pid=300,fd=46)) ino:1003 sk:3 cgroup:/ <->
    SYN-SENT 0    1      192.0.2.2:38478   10.244.0.4:8000  users:(("ray-operator",pid=301,fd=9),("ray-operator",pid=302,fd=9)) ino:1004 sk:4 cgroup:/ <->
    ESTAB  0      0      192.0.2.2:48712 203.0.113.80:443   users:(("pip",pid=900,fd=3)) ino:1005 sk:5 cgroup:/ <->
    TIME-WAIT 0   0      192.0.2.2:48713 203.0.113.80:443   timer:(timewait,59sec,0) ino:0 sk:6 <->
    ESTAB  0      0          [::1]:45854        [::1]:33007 users:(("python3",pid=303,fd=4)) ino:1007 sk:7 cgroup:/ <->
    ESTAB  0      0      [::ffff:127.0.0.1]:45855 [::ffff:127.0.0.1]:33008 users:(("python3",pid=303,fd=5)) ino:1008 sk:8 cgroup:/ <->
    ESTAB  0      0      [fd00::2]:45856 [fd00::9]:443      users:(("curl",pid=304,fd=5)) ino:1009 sk:9 cgroup:/ <->
    ESTAB  0      0          [::1]:33007        [::1]:45854 ino:0 sk:a cgroup:/ <->
    """
)
# 100 is the watcher; 300-304 its descendants (304 through an orphaned grandchild's parent);
# 900 (pip) is another process of the machine.
PARENTS = {100: 1, 200: 100, 300: 100, 301: 200, 302: 301, 303: 300, 250: 100, 304: 250, 900: 1}


def test_parses_connections_and_leaves_out_listening_sockets():
    connections = netwatch.parse_ss(RECORDED)
    assert [c.state for c in connections][:3] == ["ESTAB", "ESTAB", "SYN-SENT"]
    assert all(c.state not in ("LISTEN", "TIME-WAIT") for c in connections)
    syn = connections[2]
    assert syn.peer == "10.244.0.4:8000"
    assert syn.holders == (("ray-operator", 301), ("ray-operator", 302))
    assert syn.inode == 1004


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.244.0.1", False),
        ("192.0.2.2", False),
        ("fd00::9", False),
        ("::ffff:10.0.0.1", False),
        ("*", False),
    ],
)
def test_only_127_0_0_0_8_and_the_ipv6_loopback_are_loopback(host, loopback):
    assert netwatch.is_loopback(host) is loopback


def test_names_each_descendant_that_left_loopback_and_nobody_else():
    watch = netwatch.Watch(root=100)
    watch.observe(netwatch.parse_ss(RECORDED), PARENTS, now=0.0)
    offenders = sorted((o.name, o.pid, o.connection.peer) for o in watch.offences.values())
    assert offenders == [
        ("curl", 304, "[fd00::9]:443"),
        ("java", 300, "10.244.0.1:8265"),
        ("ray-operator", 301, "10.244.0.4:8000"),
    ]
    # pip's connection is another process's; ino:0 sockets are held by nobody.
    assert len(watch.seen) == 6
    summary = watch.summary()
    assert "3 left loopback" in summary
    assert "10.244.0.1:8265" in summary and "203.0.113.80" not in summary


def test_a_run_on_loopback_passes_with_its_count():
    loopback_only = "\n".join(l for l in RECORDED.splitlines() if "10.244" not in l and "fd00" not in l)
    watch = netwatch.Watch(root=100)
    for second in range(3):  # the same connections in several samples count once
        watch.observe(netwatch.parse_ss(loopback_only), PARENTS, now=second)
    assert not watch.offences
    assert watch.summary().endswith(
        "3 connections of this run's processes seen in 3 samples (7 processes); none left loopback (127.0.0.0/8, ::1)"
    )


# Live: the watcher runs inside a network namespace made for the test, where 10.203.0.1 is a
# second address of its loopback interface. Nothing can leave it: it has no other interface, and
# the address exists nowhere else.

NAMESPACE_ADDRESS = "10.203.0.1"


def _namespace_prefix():
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        pytest.fail("unshare (util-linux) and ip (iproute2) are needed for the live tests")
    prefix = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--net"]
    probe = subprocess.run(prefix + ["true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail("cannot make a network namespace for the live tests: " + probe.stderr.strip())
    return prefix


def _in_namespace(script: str, tmp_path: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    setup = textwrap.dedent(
        f"""\
        set -e
        ip link set lo up
        ip addr add {NAMESPACE_ADDRESS}/32 dev lo
        set +e
        """
    )
    # connect HOST: listens on HOST, connects to it and holds the connection open for a second.
    connect = tmp_path / "connect"
    connect.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import socket, sys, time
            host = sys.argv[1]
            server = socket.socket()
            server.bind((host, 0))
            server.listen()
            client = socket.create_connection((host, server.getsockname()[1]))
            time.sleep(1)
            """
        )
    )
    connect.chmod(0o755)
    return subprocess.run(
        _namespace_prefix() + ["bash", "-c", setup + script],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "NETWATCH": str(HACK / "netwatch.py"), "CONNECT": str(connect), "PY": sys.executable},
    )


def test_live_a_connection_outside_loopback_fails_the_run_and_is_named(tmp_path):
    result = _in_namespace(f'"$PY" "$NETWATCH" -- "$CONNECT" {NAMESPACE_ADDRESS}; echo "rc=$?"', tmp_path)
    assert "rc=3" in result.stdout, result.stderr
    assert "1 left loopback" in result.stderr
    assert f"-> {NAMESPACE_ADDRESS}:" in result.stderr
    assert f"connect {NAMESPACE_ADDRESS}" in result.stderr  # the process's command line


def test_live_loopback_only_passes_and_counts(tmp_path):
    result = _in_namespace('"$PY" "$NETWATCH" -- "$CONNECT" 127.0.0.1; echo "rc=$?"', tmp_path)
    assert "rc=0" in result.stdout, result.stderr
    assert "none left loopback" in result.stderr
    # The client end; the server end is never accepted, so no process holds it.
    assert "netwatch: 1 connections" in result.stderr


def test_live_an_orphaned_grandchild_is_still_watched(tmp_path):
    # The grandchild outlives its parent (a daemon started in the background): it is reparented
    # to the watcher, and its connection still counts.
    script = f"( setsid bash -c 'sleep 0.5; \"$CONNECT\" {NAMESPACE_ADDRESS}' & ); sleep 2"
    result = _in_namespace(f'"$PY" "$NETWATCH" -- bash -c "{script}"; echo "rc=$?"', tmp_path)
    assert "rc=3" in result.stdout, result.stderr
    assert f"-> {NAMESPACE_ADDRESS}:" in result.stderr


def test_live_other_processes_of_the_machine_are_not_the_runs(tmp_path):
    script = f"""
        "$CONNECT" {NAMESPACE_ADDRESS} &
        sleep 0.3
        "$PY" "$NETWATCH" -- sleep 0.5; echo "rc=$?"
        wait
    """
    result = _in_namespace(script, tmp_path)
    assert "rc=0" in result.stdout, result.stderr
    assert "none left loopback" in result.stderr


def test_live_the_commands_own_failure_is_its_exit_status(tmp_path):
    result = _in_namespace('"$PY" "$NETWATCH" -- bash -c "exit 7"; echo "rc=$?"', tmp_path)
    assert "rc=7" in result.stdout, result.stderr


def test_a_watch_whose_samples_mostly_failed_fails_the_run():
    watch = netwatch.Watch(root=100)
    for second in range(20):
        watch.observe(netwatch.parse_ss(""), PARENTS, now=second)
    watch.failed_samples = 2  # one in eleven: a busy moment
    assert not watch.blind()
    watch.failed_samples = 5
    assert watch.blind()
    assert watch.summary().endswith("5 samples failed (ss did not answer); the watch is blind, so the run fails")


def test_a_watch_stopped_with_its_process_group_ends_with_its_command():
    # The command and the watcher get the signal together (a job stopped by its group): the
    # forwarding handler then finds the command already dead, and the watch must still end.
    watcher = subprocess.Popen(
        [sys.executable, str(HACK / "netwatch.py"), "--", "sleep", "30"],
        start_new_session=True,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while not any(
            p.name == "sleep" for p in _children(watcher.pid)
        ) and time.monotonic() < deadline:
            time.sleep(0.05)
        # The watcher held still until the command is dead and not yet reaped: its handler
        # then runs first, as it did when it was busy sampling.
        os.kill(watcher.pid, signal.SIGSTOP)
        os.killpg(watcher.pid, signal.SIGTERM)
        while time.monotonic() < deadline and not any(
            p.name == "sleep" and _state(p.pid) == "Z" for p in _children(watcher.pid)
        ):
            time.sleep(0.05)
        os.kill(watcher.pid, signal.SIGCONT)
        assert watcher.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        if watcher.poll() is None:
            watcher.kill()
    assert "netwatch: " in watcher.stderr.read()


def _children(pid: int):
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name = stat[stat.index("(") + 1 : stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            if ppid == pid:
                children.append(type("Process", (), {"name": name, "pid": int(entry.name)}))
    return children


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2 :].split()[0]
