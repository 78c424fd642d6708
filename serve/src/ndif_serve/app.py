"""The Serve application: ``ndif_serve.app:build`` is the import path ndif-operator writes."""

# No `from __future__ import annotations`: Serve's ingress wrapper hides the module globals that
# FastAPI needs to resolve string annotations, and the request body would become a query parameter.
import asyncio
import json
import logging
import os
import time
from typing import Any

import ray
import torch
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application

from . import contained, gateway, warm, warm_store
from .execution import Outcome, Request, RequestExecutor
from .model import LoadedModel
from .settings import ModelSettings

logger = logging.getLogger("ray.serve")

api = FastAPI(title="ndif-serve")


class GenerateRequest(BaseModel):
    prompt: str = Field(min_length=1, max_length=100_000)
    max_new_tokens: int = Field(default=16, ge=1)


class GenerateResponse(BaseModel):
    model_key: str
    text: str
    prompt_tokens: int
    new_tokens: int


# A model that cannot load is unlikely to load on the 20th try (Serve's default): fail the
# application after 3 so the operator reports it while the GPU is given back. One request at a
# time per replica (nnsight's state and the captured stdout are per process), behind a bounded
# queue: a full one answers at once instead of growing.
@serve.deployment(
    name="ModelDeployment",
    max_constructor_retry_count=3,
    max_ongoing_requests=1,
    max_queued_requests=64,
)
@serve.ingress(api)
class ModelDeployment:
    """One replica: loads its model in the constructor, so Serve reports it RUNNING only once the
    weights are in memory, and a load failure fails the replica with the reason."""

    def __init__(self, settings: ModelSettings):
        self.settings = settings
        self.unhealthy: str | None = None
        # Requests run in a contained child of a zygote that holds the model, except for the
        # callers the cluster's trust policy lets into this process (and a model that is not
        # nnsight's runs no caller's code). The model is loaded where a path needs it, so a
        # replica that contains everyone holds it once, in its zygote.
        contains = settings.uses_nnsight and settings.in_process != "everyone"
        in_process = not settings.uses_nnsight or settings.in_process != "nobody"
        self.warm_store = None
        copy = self._warm_copy() if settings.uses_nnsight else None
        self.runner = None
        if contains:
            fd = None
            if copy is not None:
                started = time.monotonic()
                fd, size = warm.memfd_of(copy[1])
                logger.info("%s: the copy in a shared-memory file for the zygote in %.2f s",
                            settings.key, time.monotonic() - started)
            try:
                self.runner = contained.start(
                    settings, None if fd is None else (copy[0], fd, size)
                )
            finally:
                if fd is not None:
                    os.close(fd)
        self.model = None
        self.executor = None
        if in_process:
            assigned = ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0)
            own = None
            if copy is not None:
                # The object store's copy is shared and read-only: this process writes its own.
                own = (copy[0], torch.from_numpy(copy[1].copy()))
            self.model = LoadedModel.load(
                settings, ray.get_gpu_ids(), assigned_gpus=assigned, warm=own
            )
            if self.model.nnsight_model is not None:
                self.executor = RequestExecutor(
                    self.model.nnsight_model, settings.execution_timeout_seconds
                )
        logger.info(
            "%s: contained path %s, in-process path for %s",
            settings.key,
            f"in zygote {self.runner.pid}" if self.runner else "off",
            settings.in_process if self.executor else "nobody",
        )

    def _warm_copy(self):
        """The packed weights the warm tier kept of this model (on this node, else another), or
        None; the store of this node is remembered so that stopping keeps a copy there."""
        if self.settings.warm_budget_bytes <= 0:
            return None
        try:
            started = time.monotonic()
            self.warm_store = warm_store.store_here(self.settings.warm_budget_bytes)
            self.warm_store.set_budget.remote(self.settings.warm_budget_bytes)
            copy = warm_store.find(self.settings.key, self.settings.dtype, self.warm_store)
            logger.info(
                "%s: %s in %.2f s", self.settings.key,
                f"a warm copy of {copy[1].nbytes} bytes" if copy is not None else "no warm copy",
                time.monotonic() - started,
            )
            return copy
        except Exception as e:  # the warm tier only saves time
            logger.warning("%s: the warm tier is not available: %s", self.settings.key, e)
            return None

    def load_source(self) -> str:
        if self.runner is not None:
            return str(self.runner.info.get("load_source", "cold"))
        return self.model.load_source if self.model is not None else "cold"

    def runs_nnsight(self) -> bool:
        if self.runner is not None:
            return bool(self.runner.info.get("nnsight"))
        return self.executor is not None

    def nnsight_model_key(self) -> str | None:
        """The key this replica runs nnsight requests for (None: it runs none); the gateway asks
        when Serve holds no config for the application."""
        return self.settings.key if self.runs_nnsight() else None

    def check_health(self) -> None:
        # Serve replaces a replica whose health check raises.
        if self.runner is not None and self.runner.process.poll() is not None:
            self.unhealthy = (
                f"The process that runs contained jobs for {self.settings.key} exited"
                f" ({self.runner.process.returncode}); this replica is restarting."
            )
        if self.unhealthy:
            raise RuntimeError(self.unhealthy)

    async def run_nnsight(self, job: dict[str, Any]):
        """Runs one nnsight request for the gateway, streaming its statuses: RUNNING, a LOG per
        printed line, then COMPLETED (with the result blob) or ERROR. The job runs contained
        unless the gateway found its caller trusted (``contained: False``) and this replica has
        an in-process path; a job that does not say is contained."""
        if not self.runs_nnsight():
            yield {
                "status": "ERROR",
                "description": f"The model {self.settings.key} is served by"
                f" {self.settings.wrapper}, which is not an nnsight model: it serves /generate"
                " only.",
            }
            return
        if self.unhealthy:
            yield {"status": "ERROR", "description": self.unhealthy}
            return
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str] = asyncio.Queue()

        def on_log(line: str) -> None:
            loop.call_soon_threadsafe(lines.put_nowait, line)

        yield {"status": "RUNNING", "description": "Your job has started running."}
        if self.runner is not None and (job.get("contained", True) or self.executor is None):
            work = asyncio.ensure_future(asyncio.to_thread(self._run_contained, job, on_log))
        else:
            request = Request(
                id=job["id"], payload=job["payload"], compress=job["compress"], env=job["env"]
            )
            work = asyncio.ensure_future(asyncio.to_thread(self.executor.run, request, on_log))
        while not work.done():
            line = asyncio.ensure_future(lines.get())
            await asyncio.wait({work, line}, return_when=asyncio.FIRST_COMPLETED)
            if line.done():
                yield {"status": "LOG", "description": line.result()}
            else:
                line.cancel()
        # Lines scheduled by the worker before it returned.
        await asyncio.sleep(0)
        while not lines.empty():
            yield {"status": "LOG", "description": lines.get_nowait()}
        outcome = work.result()
        if outcome.fatal:
            self.unhealthy = (
                f"This replica of {self.settings.key} is restarting after a fatal error:"
                f" {outcome.description.splitlines()[-1]}"
            )
            logger.error(self.unhealthy)
        yield {
            "status": outcome.status,
            "description": outcome.description
            or ("Your job has been completed." if outcome.status == "COMPLETED" else ""),
            "data": outcome.result,
            "meta": outcome.meta,
        }

    def _run_contained(self, job: dict[str, Any], on_log) -> Outcome:
        header, payload = contained.nnsight_request(job)
        started = time.monotonic()
        answer = self.runner.run(
            payload, contained.timeout_seconds(self.settings), header, on_log
        )
        return Outcome(
            answer.status,
            result=answer.result if answer.status == "COMPLETED" else None,
            description=answer.description,
            meta={"runtime": round(time.monotonic() - started, 4)},
            fatal=answer.fatal,
        )

    # Serve routes no request to a replica before its constructor returned, that is, before the
    # weights are loaded; a replica whose load failed never answers.
    @api.get("/healthz")
    def healthz(self) -> dict[str, str]:
        return {"status": "ok", "model_key": self.settings.key}

    @api.get("/info")
    def info(self) -> dict[str, Any]:
        return self.model.info() if self.model is not None else dict(self.runner.info)

    @api.post("/generate", response_model=GenerateResponse)
    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        limit = self.settings.max_new_tokens_limit
        if request.max_new_tokens > limit:
            raise HTTPException(
                status_code=400,
                detail=f"max_new_tokens is {request.max_new_tokens}; this model allows at most"
                f" {limit}",
            )
        if self.model is None:
            return await self._generate_contained(request)
        timeout = self.settings.execution_timeout_seconds
        deadline = None if timeout is None else time.monotonic() + timeout
        work = asyncio.to_thread(
            self.model.generate, request.prompt, request.max_new_tokens, deadline
        )
        try:
            result = await asyncio.wait_for(work, timeout)
        except asyncio.TimeoutError:
            # The generation stops by itself at its next token, past the same deadline.
            raise HTTPException(status_code=504, detail=self._timed_out(timeout)) from None
        return GenerateResponse(
            model_key=self.settings.key,
            text=result.text,
            prompt_tokens=result.prompt_tokens,
            new_tokens=result.new_tokens,
        )


    async def _generate_contained(self, request: GenerateRequest) -> GenerateResponse:
        timeout = contained.timeout_seconds(self.settings)
        answer = await asyncio.to_thread(
            self.runner.run,
            b"",
            timeout,
            contained.generate_request(request.prompt, request.max_new_tokens),
        )
        if answer.fatal:
            self.unhealthy = f"This replica of {self.settings.key} is restarting: {answer.description}"
        if answer.status != "COMPLETED":
            status = 504 if "execution timeout" in answer.description else 500
            detail = self._timed_out(timeout) if status == 504 else answer.description
            raise HTTPException(status_code=status, detail=detail)
        return GenerateResponse(model_key=self.settings.key, **json.loads(answer.result))

    @staticmethod
    def _timed_out(timeout: float) -> str:
        return f"execution took longer than the model's {timeout:g} s execution timeout"

    def __del__(self):
        runner = getattr(self, "runner", None)
        if runner is not None:
            runner.close()
        self._keep_warm()

    def _keep_warm(self) -> None:
        """A replica that stops (preempted, scaled down, idled out, deleted) leaves its model's
        weights to its node's warm store, which reads them from this node's files."""
        store = getattr(self, "warm_store", None)
        if store is None:
            return
        s = self.settings
        try:
            # The store answers at once and makes the copy itself: the replica's resources (a
            # GPU a preemptor waits for) are not held while the files are read.
            said = ray.get(
                store.keep.remote(s.key, s.repo_id, s.revision, s.dtype, s.priority, s.pool,
                                  s.deployment),
                timeout=30,
            )
            logger.info("%s: warm copy %s", s.key, said)
        except Exception as e:
            logger.warning("%s: no warm copy kept: %s", s.key, e)


def build(args: dict[str, Any]) -> Application:
    """Serve's application builder: validates the operator's arguments before any replica starts,
    so bad arguments fail the application with a message that names them."""
    settings = ModelSettings.from_args(args)
    return ModelDeployment.bind(settings)


def build_gateway(args: dict[str, Any]) -> Application:
    """The gateway's application builder (``ndif_serve.app:build_gateway``): NDIF's API for the
    models of this Ray cluster, with the broker its replicas share."""
    settings = gateway.GatewaySettings.from_args(args)
    if settings.store is not None:
        # Every gateway replica keeps jobs in the store itself.
        return gateway.Gateway.bind(settings, None)
    broker = gateway.JobBrokerDeployment.bind(
        result_ttl_seconds=settings.result_ttl_seconds
    )
    return gateway.Gateway.bind(settings, broker)
