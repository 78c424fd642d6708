"""Models deployed on demand, as the gateway sees them: which model keys the cluster's owner
allows, the jobs waiting for a model that nothing serves yet, when each model was last used, and
what the operator said of each deployment it made. The operator reads the demand and answers
with its placement; no Ray and no HTTP in here, and no Kubernetes credentials anywhere."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field

from . import keys


class OnDemandSettings(BaseModel):
    """What the operator puts in the gateway's ``on_demand`` argument."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Repository ids or shell-style patterns (org/*) of the models that may be deployed.
    models: tuple[str, ...] = Field(min_length=1)
    # How long a job waits for its model to be deployed and placed before it ends.
    max_wait_seconds: float = Field(default=600, ge=0)
    # The operator sends it with each report; nobody else may read the demand or set states.
    token: str = Field(min_length=16)


def matches(pattern: str, repo_id: str) -> bool:
    """Shell-style, as the operator matches: * is any run of characters but /, ? one of them."""
    regex = "".join(
        "[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in pattern
    )
    return re.fullmatch(regex, repo_id) is not None


@dataclass
class _Waiting:
    since: float
    jobs: set[str] = field(default_factory=set)


class Demand:
    def __init__(self, settings: OnDemandSettings, clock: Callable[[], float] = time.time):
        self.settings = settings
        self._clock = clock
        self._waiting: dict[str, _Waiting] = {}
        self._used: dict[str, float] = {}
        self._active: dict[str, int] = {}
        self._states: dict[str, dict[str, str]] = {}

    def allows(self, model_key: str) -> bool:
        repo_id = keys.describe(model_key)["repo_id"]
        return any(matches(pattern, repo_id) for pattern in self.settings.models)

    def wait(self, model_key: str, job_id: str) -> None:
        key = keys.normalize(model_key)
        self._waiting.setdefault(key, _Waiting(self._clock())).jobs.add(job_id)

    def stop_waiting(self, model_key: str, job_id: str) -> None:
        key = keys.normalize(model_key)
        waiting = self._waiting.get(key)
        if waiting is not None:
            waiting.jobs.discard(job_id)
            if not waiting.jobs:
                del self._waiting[key]

    def has_waiting(self) -> bool:
        return bool(self._waiting)

    def started(self, model_key: str) -> None:
        """A job for the model is queued or running: the model is in use until it ends."""
        key = keys.normalize(model_key)
        self._active[key] = self._active.get(key, 0) + 1
        self._used[key] = self._clock()

    def ended(self, model_key: str) -> None:
        key = keys.normalize(model_key)
        self._used[key] = self._clock()
        left = self._active.get(key, 0) - 1
        if left > 0:
            self._active[key] = left
        else:
            self._active.pop(key, None)

    def state(self, model_key: str) -> Optional[dict[str, str]]:
        return self._states.get(keys.normalize(model_key))

    def report(self, states: dict[str, Any]) -> dict[str, Any]:
        """Takes the operator's word on each on-demand deployment ({key: {phase, message}}) and
        answers with the demand: the keys jobs wait for, when each model was last used, and how
        many jobs each has queued or running now."""
        self._states = {
            keys.normalize(k): {"phase": str(v.get("phase", "")), "message": str(v.get("message", ""))}
            for k, v in (states or {}).items()
            if isinstance(v, dict)
        }
        return {
            "waiting": {
                key: {"jobs": len(w.jobs), "since": w.since} for key, w in self._waiting.items()
            },
            "used": dict(self._used),
            "active": dict(self._active),
        }

    def describe_wait(self, model_key: str) -> str:
        state = self.state(model_key)
        limit = f"{self.settings.max_wait_seconds:g}"
        if state is None:
            return (
                f"The model {model_key} is not deployed here; it is being deployed on demand."
                f" Your job runs when it is up (it waits up to {limit} s)."
            )
        return (
            f"The model {model_key} is being deployed on demand ({state['phase']}:"
            f" {state['message']}). Your job runs when it is up (it waits up to {limit} s)."
        )

    def gave_up(self, model_key: str) -> str:
        state = self.state(model_key)
        reason = (
            f" {state['message'][0].upper()}{state['message'][1:]}."
            if state and state.get("message")
            else " The operator did not deploy it (is it running?)."
        )
        return (
            f"The model {model_key} could not be deployed on demand within"
            f" {self.settings.max_wait_seconds:g} s.{reason.rstrip('.')}."
        )

    def refused(self, model_key: str) -> str:
        return (
            f"The model {model_key} is not served here, and this cluster deploys on demand only"
            f" models matching {', '.join(self.settings.models)}."
        )
