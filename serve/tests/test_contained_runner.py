"""Each request in a contained fork of a zygote that holds the model: what one request changes,
the next does not see, and the caller's secrets are not in the zygote."""

import json
import os
import textwrap

import pytest

from ndif_serve.containment import Policy
from ndif_serve.containment.runner import ContainedRunner

REQUESTS = textwrap.dedent(
    """
    import json, os, threading, time
    import torch
    import torch.nn.functional as F

    def load(model_dir):
        return {"w": torch.ones(4), "dir": model_dir}

    from ndif_serve.containment.runner import Answer

    def handle(model, request, payload, log):
        what = payload.decode()
        if what == "talk":
            for i in range(3):
                log(f"line {i}")
            return Answer("COMPLETED", result=b"said")
        if what == "look":
            return Answer("COMPLETED", result=json.dumps({"sum": float(model["w"].sum()), "spy": hasattr(F, "spy"),
                               "threads": threading.active_count(),
                               "weights": open(os.path.join(model["dir"], "weights")).read()}).encode())
        if what == "tamper":
            model["w"].data.mul_(10)          # through .data: invisible to the version counter
            model["w"].add_(1)
            F.spy = lambda *a: None           # a monkeypatch for the next user to call
            threading.Thread(target=lambda: time.sleep(3600), daemon=True).start()
            open(os.path.join(os.environ["TMPDIR"], "left-behind"), "w").write("x")
            return Answer("COMPLETED", result=str(float(model["w"].sum())).encode())
        if what.startswith("read:"):
            return Answer("COMPLETED", result=open(what[len("read:"):]).read().encode())
        if what == "channel":
            return Answer("COMPLETED", result=json.dumps(
                [os.readlink(f"/proc/self/fd/{n}") for n in (0, 1, 2)] + [os.read(0, 10).decode()]).encode())
        if what == "env":
            return Answer("COMPLETED", result=json.dumps(sorted(os.environ)).encode())
        if what == "spin":
            while True:
                pass
        if what == "die":
            os._exit(3)
        if what in ("garbage", "huge"):
            # The block writes to the answer pipe itself (it is in its process).
            import struct
            fd = max(int(n) for n in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{n}"))
            for n in sorted(int(n) for n in os.listdir("/proc/self/fd")):
                try:
                    if "pipe" in os.readlink(f"/proc/self/fd/{n}") and n > 2:
                        fd = n
                except OSError:
                    pass
            frame = struct.pack(">II", 5, 0) + b"{bad}" if what == "garbage" else struct.pack(">II", 2, 0xFFFFFFF0)
            os.write(fd, frame)
            time.sleep(60)
        raise ValueError("unknown request " + what)
    """
)


@pytest.fixture
def runner(tmp_path, monkeypatch):
    (tmp_path / "requests_for_test.py").write_text(REQUESTS)
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights").write_text("original")
    secret = tmp_path / "api-keys.yaml"
    secret.write_text("keys: [{key: everyone-s-key}]")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("RAY_AUTH_TOKEN", "the-cluster-token")
    runner = ContainedRunner(
        "requests_for_test:load",
        "requests_for_test:handle",
        Policy(read=(str(model),)),
        load_args={"model_dir": str(model)},
    )
    runner.secret = str(secret)
    yield runner
    runner.close()


def test_a_request_runs_against_the_loaded_model(runner):
    answer = runner.run(b"look", timeout_seconds=30)
    assert answer.status == "COMPLETED", answer.description
    assert json.loads(answer.result) == {"sum": 4.0, "spy": False, "threads": 1, "weights": "original"}


def test_what_a_request_changes_ends_with_it(runner):
    tampered = runner.run(b"tamper", timeout_seconds=30)
    assert tampered.status == "COMPLETED", tampered.description
    assert float(tampered.result) == 44.0
    after = json.loads(runner.run(b"look", timeout_seconds=30).result)
    assert after == {"sum": 4.0, "spy": False, "threads": 1, "weights": "original"}


def test_the_zygote_holds_no_secret_of_the_caller(runner):
    names = json.loads(runner.run(b"env", timeout_seconds=30).result)
    assert "RAY_AUTH_TOKEN" not in names
    assert set(names) <= {"PATH", "LANG", "LC_ALL", "HOME", "HF_HOME", "HF_HUB_OFFLINE",
                          "TRANSFORMERS_OFFLINE", "PYTHONPATH", "VIRTUAL_ENV", "TZ",
                          "OMP_NUM_THREADS", "MKL_NUM_THREADS", "TMPDIR"}


def test_a_request_that_reads_outside_its_model_gets_an_error_and_the_next_runs(runner):
    answer = runner.run(b"read:" + runner.secret.encode(), timeout_seconds=30)
    assert answer.status == "ERROR"
    assert answer.description.startswith("PermissionError: [Errno 13] Permission denied")
    assert runner.run(b"look", timeout_seconds=30).status == "COMPLETED"


def test_a_request_past_its_time_is_stopped_and_the_next_runs(runner):
    answer = runner.run(b"spin", timeout_seconds=2)
    assert answer == type(answer)("ERROR", "Your job exceeded the execution timeout of 2 s and was stopped.")
    assert runner.run(b"look", timeout_seconds=30).status == "COMPLETED"


def test_a_request_whose_process_dies_gets_a_sentence(runner):
    answer = runner.run(b"die", timeout_seconds=30)
    assert answer.status == "ERROR"
    assert answer.description == "The process running your job ended (exit status 3)."


def test_logged_lines_reach_the_caller_before_the_answer(runner):
    lines = []
    answer = runner.run(b"talk", timeout_seconds=30, on_log=lines.append)
    assert (answer.status, answer.result, lines) == ("COMPLETED", b"said", ["line 0", "line 1", "line 2"])


def test_a_zygote_that_is_gone_is_a_fatal_answer(runner):
    runner.process.kill()
    runner.process.wait()
    answer = runner.run(b"look", timeout_seconds=30)
    assert answer.status == "ERROR" and answer.fatal
    assert "this replica is restarting" in answer.description


@pytest.mark.parametrize("what, description", [
    (b"garbage", "The process running your job sent an unreadable answer."),
    (b"huge", "Your job's result is larger than 2147483648 bytes, the limit."),
])
def test_what_a_block_writes_to_its_answer_pipe_cannot_stop_the_zygote(runner, what, description):
    answer = runner.run(what, timeout_seconds=30)
    assert (answer.status, answer.description) == ("ERROR", description)
    assert runner.run(b"look", timeout_seconds=30).status == "COMPLETED"


def test_a_block_cannot_reach_the_zygotes_channel(runner):
    stdin, stdout, stderr, read = json.loads(runner.run(b"channel", timeout_seconds=30).result)
    assert stdin == "/dev/null" and read == ""
    assert stdout == stderr
