"""The arguments ndif-operator writes into each Serve application, validated."""

from __future__ import annotations

import json
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import keys

DEFAULT_WRAPPER = "nnsight.modeling.language.LanguageModel"

# Who may run in the replica's own process instead of a contained one: nobody, the keys tagged
# ``trusted`` (NDIF's rule), or everyone (a single-user lab).
InProcess = Literal["nobody", "trusted", "everyone"]
TRUSTED_TAG = "trusted"
GiB = 1024**3


class InvalidArguments(ValueError):
    """The application's arguments cannot be used; the message says which and why."""


class ModelSettings(BaseModel):
    """One model replica's settings: what the operator puts in the application's ``args``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_key: Optional[str] = Field(
        default=None, description="NDIF model key; derived from wrapper and repo id when absent"
    )
    repo_id: str = Field(min_length=1, description="Hugging Face repo id or a local directory")
    revision: Optional[str] = None
    wrapper: str = DEFAULT_WRAPPER
    task: Optional[str] = Field(
        default=None, description="transformers task of a TransformersModel (LanguageModel pins it)"
    )
    dtype: Literal["bfloat16", "float16", "float32"] = "bfloat16"
    trust_remote_code: bool = False
    execution_timeout_seconds: Optional[float] = Field(default=None, gt=0)
    max_new_tokens_limit: int = Field(default=256, ge=1, le=8192)
    in_process: InProcess = Field(
        default="nobody",
        description="who may run in the replica's process; everyone else runs contained",
    )
    request_memory_bytes: int = Field(
        default=4 * GiB, ge=64 * 1024 * 1024,
        description="how far a contained request may grow its address space beyond the model's",
    )
    request_file_bytes: int = Field(
        default=GiB // 4, ge=0, description="largest file a contained request may write"
    )
    cluster: Optional[str] = Field(
        default=None, description="<namespace>/<name> of the NdifCluster that owns the application"
    )
    deployment: Optional[str] = Field(
        default=None, description="<namespace>/<name> of the NdifDeployment it serves"
    )
    warm_budget_bytes: int = Field(
        default=0, ge=0,
        description="host memory per node for weights of stopped models (the warm tier); 0: off",
    )
    priority: int = Field(default=0, description="the deployment's priority, for the warm budget")
    pool: Optional[str] = Field(default=None, description="the pool it is placed in")

    @field_validator("wrapper")
    @classmethod
    def _dotted_class(cls, value: str) -> str:
        module, _, name = value.rpartition(".")
        if not module or not name:
            raise ValueError("must be a dotted class path such as " + DEFAULT_WRAPPER)
        return value

    @model_validator(mode="after")
    def _nnsight_key(self) -> "ModelSettings":
        # An nnsight wrapper is loaded from its key, as NDIF does; any other class only reports it.
        if self.uses_nnsight and self.model_key is not None:
            prefix, _, suffix = self.model_key.partition(":")
            try:
                parsed = json.loads(suffix)
            except ValueError:
                parsed = None
            if not prefix or not isinstance(parsed, dict) or "repo_id" not in parsed:
                raise ValueError(
                    "model_key must be '<wrapper class path>:<JSON with repo_id>' as nnsight's"
                    " to_model_key() writes it, e.g. " + keys.model_key(DEFAULT_WRAPPER, "org/model")
                )
        return self

    @property
    def key(self) -> str:
        if self.model_key:
            return self.model_key
        return keys.model_key(
            self.wrapper, self.repo_id, self.revision, self.trust_remote_code, self.task
        )

    @property
    def uses_nnsight(self) -> bool:
        return self.wrapper.split(".", 1)[0] == "nnsight"

    @classmethod
    def from_args(cls, args: dict[str, Any] | None) -> "ModelSettings":
        try:
            return cls.model_validate(args or {})
        except ValidationError as e:
            raise InvalidArguments(f"invalid application arguments: {problems(e)}") from None


def problems(error: ValidationError) -> str:
    """A validation error as one line that names each field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'args'}: {err['msg']}" for err in error.errors()
    )
