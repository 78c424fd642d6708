"""Running nnsight requests in a replica's process, without Ray or HTTP: payloads made by nnsight's
own serializer, results read the way the client's finalize reads them."""

import linecache
import time

import pytest
import torch

from ndif_serve.execution import Request, RequestExecutor
from ndif_serve.model import LoadedModel
from ndif_serve.settings import ModelSettings
from remote_client import Capture, client_model, finalize, key_of, local_model


@pytest.fixture(scope="module")
def served(tiny_model):
    settings = ModelSettings.from_args(
        {"model_key": key_of(tiny_model), "repo_id": tiny_model, "dtype": "float32"}
    )
    return LoadedModel.load(settings, gpu_ids=[])


def payload(tiny_model, block, prompt="Ray Serve runs", compress=True):
    capture = Capture(compress)
    block(client_model(tiny_model), prompt, capture)
    return capture.payload


def hidden_state(model, prompt, backend):
    with model.trace(prompt, backend=backend):
        h = model.transformer.h[0].output.save()  # noqa: F841


def test_the_replica_loads_the_wrapper_the_key_names(served, tiny_model):
    from nnsight.modeling.transformers import TransformersModel

    assert isinstance(served.nnsight_model, TransformersModel)
    assert served.info()["model_key"] == key_of(tiny_model)


@pytest.mark.parametrize("compress", [True, False])
def test_a_trace_returns_the_saves_of_a_local_run(served, tiny_model, compress):
    blob = payload(tiny_model, hidden_state, compress=compress)
    outcome = RequestExecutor(served.nnsight_model).run(Request("r1", blob, compress=compress))
    assert outcome.status == "COMPLETED", outcome.description
    if compress:
        assert outcome.result[:4] == b"\x28\xb5\x2f\xfd"
    saves = finalize(outcome.result, compress)
    assert set(saves) == {"h"}
    model = local_model(tiny_model)
    with model.trace("Ray Serve runs"):
        expected = model.transformer.h[0].output.save()
    assert torch.allclose(saves["h"], expected)
    assert outcome.meta["runtime"] > 0
    assert outcome.meta["max_mem_by_gpu"] == {}


def test_printed_lines_come_back_in_order(served, tiny_model):
    def block(model, prompt, backend):
        with model.trace(prompt, backend=backend):
            print("first line")
            print("second", "line")
            out = model.lm_head.output.save()  # noqa: F841
            print("partial", end="")

    lines = []
    outcome = RequestExecutor(served.nnsight_model).run(
        Request("r2", payload(tiny_model, block)), lines.append
    )
    assert outcome.status == "COMPLETED", outcome.description
    assert lines == ["first line", "second line", "partial"]


def test_an_error_shows_the_users_line_and_not_the_servers(served, tiny_model):
    def block(model, prompt, backend):
        with model.trace(prompt, backend=backend):
            h = model.transformer.h[0].output
            ratio = h.sum() / 0 + undefined_name  # noqa: F821
            ratio.save()

    executor = RequestExecutor(served.nnsight_model)
    outcome = executor.run(Request("r3", payload(tiny_model, block)))
    assert outcome.status == "ERROR"
    assert "NameError" in outcome.description
    assert "undefined_name" in outcome.description
    assert "ratio = h.sum() / 0 + undefined_name" in outcome.description
    assert "ndif_serve" not in outcome.description
    assert "site-packages/nnsight" not in outcome.description
    assert not outcome.fatal
    # The replica goes on serving.
    assert executor.run(Request("r4", payload(tiny_model, hidden_state))).status == "COMPLETED"


def test_each_request_leaves_the_process_as_it_found_it(served, tiny_model):
    from nnsight.tracing import globals as nnsight_globals

    executor = RequestExecutor(served.nnsight_model)
    executor.run(Request("warm", payload(tiny_model, hidden_state)))

    def first(model, prompt, backend):
        with model.trace(prompt, backend=backend):
            out = model.transformer.h[1].output.save()  # noqa: F841

    def second(model, prompt, backend):
        with model.trace(prompt, backend=backend):
            out = model.transformer.h[1].output.save()  # noqa: F841
            print("second block ran")

    # Same client file, same function name: a stale cached block would run the first source.
    first_payload, second_payload = payload(tiny_model, first), payload(tiny_model, second)
    before = (set(linecache.cache), set(nnsight_globals.SOURCES), set(nnsight_globals.BLOCKS))
    lines = []
    assert executor.run(Request("a", first_payload)).status == "COMPLETED"
    after_one = (set(linecache.cache), set(nnsight_globals.SOURCES), set(nnsight_globals.BLOCKS))
    assert after_one == before
    assert executor.run(Request("b", second_payload), lines.append).status == "COMPLETED"
    assert lines == ["second block ran"]


def test_a_request_past_the_timeout_is_stopped_and_said_so(served, tiny_model):
    def block(model, prompt, backend):
        with model.trace(prompt, backend=backend):
            import time as clock

            deadline = clock.monotonic() + 60
            while clock.monotonic() < deadline:
                pass
            out = model.lm_head.output.save()  # noqa: F841

    executor = RequestExecutor(served.nnsight_model, timeout_seconds=0.5)
    started = time.monotonic()
    outcome = executor.run(Request("slow", payload(tiny_model, block)))
    assert outcome.status == "ERROR"
    assert outcome.description == (
        "Your job exceeded the execution timeout of 0.5 s and was stopped."
    )
    assert time.monotonic() - started < 30  # stopped, not run to its 60 s end
    assert not outcome.fatal and executor.stuck is None
    # The worker thread is free for the next request.
    assert executor.run(Request("next", payload(tiny_model, hidden_state))).status == "COMPLETED"


def test_a_payload_that_is_not_nnsights_is_an_error_sentence(served):
    outcome = RequestExecutor(served.nnsight_model).run(Request("bad", b"not a payload", True))
    assert outcome.status == "ERROR"
    assert outcome.description.startswith("Your request could not be deserialized on the server")


def test_a_model_without_nnsight_cannot_execute(tiny_model):
    settings = ModelSettings.from_args(
        {"repo_id": tiny_model, "wrapper": "transformers.AutoModelForCausalLM", "dtype": "float32"}
    )
    assert LoadedModel.load(settings, gpu_ids=[]).nnsight_model is None


def test_work_that_does_not_stop_marks_the_replica_for_replacement(served, tiny_model, monkeypatch):
    from ndif_serve import execution

    monkeypatch.setattr(execution, "STOP_GRACE_SECONDS", 1.0)

    def block(model, prompt, backend):
        with model.trace(prompt, backend=backend):
            import time as clock

            clock.sleep(5)  # one C call: the interrupt lands only when it returns
            out = model.lm_head.output.save()  # noqa: F841

    executor = RequestExecutor(served.nnsight_model, timeout_seconds=0.5)
    outcome = executor.run(Request("stuck", payload(tiny_model, block)))
    assert outcome.status == "ERROR"
    assert outcome.fatal
    assert "could not be stopped; this replica is restarting" in executor.stuck
    # Until it is replaced, the replica refuses work and says why.
    refused = executor.run(Request("after", payload(tiny_model, hidden_state)))
    assert refused.fatal and refused.description == executor.stuck


@pytest.mark.parametrize(
    "message, fatal",
    [
        ("RuntimeError: CUDA error: device-side assert triggered", True),
        ("RuntimeError: CUDA error: an illegal memory access was encountered", True),
        ("torch.OutOfMemoryError: CUDA out of memory", False),
        ("NameError: name 'x' is not defined", False),
    ],
)
def test_only_the_fatal_cuda_errors_restart_a_replica(message, fatal):
    from ndif_serve.execution import _is_fatal_cuda

    assert _is_fatal_cuda(message) is fatal
