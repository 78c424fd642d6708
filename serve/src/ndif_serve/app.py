"""The Serve application: ``ndif_serve.app:build`` is the import path ndif-operator writes."""

# No `from __future__ import annotations`: Serve's ingress wrapper hides the module globals that
# FastAPI needs to resolve string annotations, and the request body would become a query parameter.
import asyncio
import logging
import time
from typing import Any

import ray
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from ray import serve
from ray.serve import Application

from .model import LoadedModel
from .settings import ModelSettings

logger = logging.getLogger("ndif_serve")

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
# application after 3 so the operator reports it while the GPU is given back.
@serve.deployment(name="ModelDeployment", max_constructor_retry_count=3)
@serve.ingress(api)
class ModelDeployment:
    """One replica: loads its model in the constructor, so Serve reports it RUNNING only once the
    weights are in memory, and a load failure fails the replica with the reason."""

    def __init__(self, settings: ModelSettings):
        self.settings = settings
        assigned = ray.get_runtime_context().get_assigned_resources().get("GPU", 0.0)
        self.model = LoadedModel.load(settings, ray.get_gpu_ids(), assigned_gpus=assigned)

    # Serve routes no request to a replica before its constructor returned, that is, before the
    # weights are loaded; a replica whose load failed never answers.
    @api.get("/healthz")
    def healthz(self) -> dict[str, str]:
        return {"status": "ok", "model_key": self.settings.key}

    @api.get("/info")
    def info(self) -> dict[str, Any]:
        return self.model.info()

    @api.post("/generate", response_model=GenerateResponse)
    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        limit = self.settings.max_new_tokens_limit
        if request.max_new_tokens > limit:
            raise HTTPException(
                status_code=400,
                detail=f"max_new_tokens is {request.max_new_tokens}; this model allows at most"
                f" {limit}",
            )
        timeout = self.settings.execution_timeout_seconds
        deadline = None if timeout is None else time.monotonic() + timeout
        work = asyncio.to_thread(
            self.model.generate, request.prompt, request.max_new_tokens, deadline
        )
        try:
            result = await asyncio.wait_for(work, timeout)
        except asyncio.TimeoutError:
            # The generation stops by itself at its next token, past the same deadline.
            raise HTTPException(
                status_code=504,
                detail=f"execution took longer than the model's {timeout:g} s execution timeout",
            ) from None
        return GenerateResponse(
            model_key=self.settings.key,
            text=result.text,
            prompt_tokens=result.prompt_tokens,
            new_tokens=result.new_tokens,
        )


def build(args: dict[str, Any]) -> Application:
    """Serve's application builder: validates the operator's arguments before any replica starts,
    so bad arguments fail the application with a message that names them."""
    settings = ModelSettings.from_args(args)
    return ModelDeployment.bind(settings)
