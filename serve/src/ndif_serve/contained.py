"""A model replica's contained path: a ContainedRunner whose zygote loads the model and whose
children run one request each with the same execution code as the in-process path (nnsight's
deserialization included: it already runs the caller's code). No Ray and no HTTP in here; the
replica (``app``) picks the path per request."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Callable, Optional

from .containment import Policy
from .containment.runner import Answer, ContainedRunner
from .execution import Request, execute
from .model import LoadedModel
from .settings import ModelSettings

# A request with no execution timeout of its own is still stopped: a contained child holds a
# fork of the model and the replica's only runner.
DEFAULT_TIMEOUT_SECONDS = 1800.0


# Appended to an error the containment caused, so that a researcher knows it is by design.
CONTAINED = (
    "This job runs contained: it may read the Python environment and write only its scratch"
    " directory ($TMPDIR); it cannot open sockets, run programs or reach Ray, Kubernetes or other"
    " jobs."
)
REFUSALS = ("PermissionError", "Operation not permitted", "Permission denied")


def policy(settings: ModelSettings) -> Policy:
    timeout = timeout_seconds(settings)
    return Policy(
        extra_memory_bytes=settings.request_memory_bytes,
        # The zygote kills a child at the wall-clock timeout; the CPU limit is the kernel's own
        # backstop should the zygote not get to it.
        cpu_seconds=math.ceil(timeout) + 5,
        open_files=256,
        file_size_bytes=settings.request_file_bytes,
    )


def timeout_seconds(settings: ModelSettings) -> float:
    return settings.execution_timeout_seconds or DEFAULT_TIMEOUT_SECONDS


def start(
    settings: ModelSettings, warm: Optional[tuple[list[dict[str, Any]], int, int]] = None
) -> ContainedRunner:
    """A runner whose zygote has loaded the model on the CPU (CUDA cannot follow its fork);
    ``warm``: a kept copy's index, and a shared-memory file (descriptor, size) holding it."""
    load_args: dict[str, Any] = {"settings": settings.model_dump()}
    pass_fds: tuple[int, ...] = ()
    if warm is not None:
        index, fd, size = warm
        load_args["warm"] = {"index": index, "fd": fd, "size": size}
        pass_fds = (fd,)
    return ContainedRunner(
        "ndif_serve.contained:load",
        "ndif_serve.contained:handle",
        policy(settings),
        load_args=load_args,
        describe="ndif_serve.contained:describe",
        pass_fds=pass_fds,
    )


def load(settings: dict[str, Any], warm: Optional[dict[str, Any]] = None) -> LoadedModel:
    """In the zygote: the model, and every module a request's deserialization and results use,
    imported now (a contained child reads only the Python environment). A warm copy is read into
    the zygote's own memory, which its children share copy-on-write, as a cold load's."""
    import zstandard  # noqa: F401  results
    from nnsight.schema import request  # noqa: F401  deserialization
    from nnsight.tracing import globals, tracer, util  # noqa: F401

    packed = None
    if warm is not None:
        from .warm import read_private

        packed = (warm["index"], read_private(warm["fd"], warm["size"]))
        os.close(warm["fd"])
    loaded = LoadedModel.load(ModelSettings.model_validate(settings), warm=packed)
    if loaded.nnsight_model is not None:
        _warm(loaded)
    return loaded


def _warm(loaded: LoadedModel) -> None:
    """Imports what nnsight imports lazily on a first trace, before any child is contained."""
    from .execution import serialize_result

    serialize_result({"warm": loaded.module.training}, compress=True)


def describe(loaded: LoadedModel) -> dict[str, Any]:
    return {**loaded.info(), "nnsight": loaded.nnsight_model is not None}


def handle(
    loaded: LoadedModel, request: dict[str, Any], payload: bytes, log: Callable[[str], None]
) -> Answer:
    """In a contained child: one nnsight request, or one generation."""
    if request.get("kind") == "generate":
        generation = loaded.generate(request["prompt"], int(request["max_new_tokens"]))
        return Answer(
            "COMPLETED",
            result=json.dumps(
                {
                    "text": generation.text,
                    "prompt_tokens": generation.prompt_tokens,
                    "new_tokens": generation.new_tokens,
                }
            ).encode(),
        )
    outcome = execute(
        loaded.nnsight_model,
        Request(
            id=request.get("id", ""),
            payload=payload,
            compress=bool(request.get("compress", True)),
            env=request.get("env") or {},
        ),
        log,
    )
    description = outcome.description
    if outcome.status == "ERROR" and any(mark in description for mark in REFUSALS):
        description += "\n" + CONTAINED
    return Answer(outcome.status, description, outcome.result or b"")


def nnsight_request(job: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """A gateway job as the runner's request header and payload."""
    return {
        "kind": "nnsight",
        "id": job["id"],
        "compress": job["compress"],
        "env": job.get("env") or {},
    }, job["payload"]


def generate_request(prompt: str, max_new_tokens: int) -> dict[str, Any]:
    return {"kind": "generate", "prompt": prompt, "max_new_tokens": max_new_tokens}

