"""Which models a Ray cluster serves, read from Ray Serve's own details (what the dashboard's
``/api/serve/applications/`` returns), so the gateway learns of admitted, removed and preempted
deployments without being redeployed. No Ray and no HTTP in it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from . import keys
from .settings import InvalidArguments, ModelSettings

MODEL_DEPLOYMENT = "ModelDeployment"

# nnsight.status()'s application_state of a Serve replica state.
_REPLICA_STATES = {
    "RUNNING": "RUNNING",
    "STARTING": "DEPLOYING",
    "UPDATING": "DEPLOYING",
    "RECOVERING": "DEPLOYING",
    "PENDING_MIGRATION": "RUNNING",
}


@dataclass(frozen=True)
class Replica:
    id: str
    state: str


@dataclass(frozen=True)
class ServedModel:
    """One Serve application that runs nnsight requests for a model key."""

    application: str
    model_key: str
    status: str
    message: str
    replicas: tuple[Replica, ...] = ()
    # Jobs that may wait for each replica (the deployment's max_queued_requests); None: no limit.
    max_queued: Optional[int] = None

    @property
    def running_replicas(self) -> int:
        return sum(1 for r in self.replicas if r.state == "RUNNING")

    @property
    def normalized_key(self) -> str:
        return keys.normalize(self.model_key)

    @property
    def running(self) -> bool:
        return any(r.state == "RUNNING" for r in self.replicas)

    def cannot_run(self, model_key: str) -> Optional[str]:
        """Why a job for this model cannot run now (Serve gave up starting its replicas), or None
        while it has a running replica or may still get one."""
        if self.running or self.status not in ("DEPLOY_FAILED", "UNHEALTHY"):
            return None
        return (
            f"The model {model_key} cannot run now: its deployment is {self.status}."
            f" {self.message}".rstrip()
        )


def _value(field: Any) -> str:
    """A state from Serve's details: an enum in Python, a string in the dashboard's JSON."""
    return str(getattr(field, "value", field))


def undescribed(details: dict[str, Any]) -> list[str]:
    """Running model applications that Serve holds no config for (deployed from Python rather than
    declaratively, as the operator does): their replicas must say which key they serve."""
    return [
        name
        for name, app in sorted((details.get("applications") or {}).items())
        if MODEL_DEPLOYMENT in (app.get("deployments") or {})
        and not (app.get("deployed_app_config") or {}).get("args")
        and _value(app.get("status")) == "RUNNING"
    ]


def served_models(
    details: dict[str, Any], described: Optional[dict[str, Optional[str]]] = None
) -> list[ServedModel]:
    """The applications of ``ServeInstanceDetails`` that ndif_serve's model builder made, with an
    nnsight wrapper (the others cannot run a request). ``described`` holds the key each
    undescribed application's replica reported (None: not an nnsight model)."""
    described = described or {}
    served = []
    for name, app in sorted((details.get("applications") or {}).items()):
        config = app.get("deployed_app_config") or {}
        deployments = app.get("deployments") or {}
        if MODEL_DEPLOYMENT not in deployments:
            continue
        if config.get("args"):
            try:
                settings = ModelSettings.from_args(config.get("args"))
            except InvalidArguments:
                continue
            if not settings.uses_nnsight:
                continue
            key = settings.key
        elif described.get(name):
            key = described[name]
        else:
            continue
        replicas = tuple(
            Replica(str(r.get("replica_id")), _value(r.get("state")))
            for r in deployments[MODEL_DEPLOYMENT].get("replicas") or []
        )
        queued = (deployments[MODEL_DEPLOYMENT].get("deployment_config") or {}).get(
            "max_queued_requests"
        )
        served.append(
            ServedModel(
                application=name,
                model_key=key,
                status=_value(app.get("status")),
                message=str(app.get("message") or ""),
                replicas=replicas,
                max_queued=queued if isinstance(queued, int) and queued >= 0 else None,
            )
        )
    return served


@dataclass(frozen=True)
class Route:
    """Where a job goes and the status it starts with: QUEUED or DEPLOYING with a model, or
    ERROR (and no model) with the sentence that says why nothing can run it."""

    model: Optional[ServedModel]
    status: str
    description: str


QUEUED = "Your job is waiting for a replica of the model."
DEPLOYING = "The model is deploying; your job runs once a replica is up."


class Catalog:
    def __init__(self, models: Optional[list[ServedModel]] = None):
        self.models = models or []

    def route(self, model_key: str) -> Route:
        """A running model for the key if there is one, else one still deploying."""
        models = self.find(model_key)
        if not models:
            served = "; ".join(self.keys()) or "none"
            return Route(
                None, "ERROR", f"The model {model_key} is not served here. Models served: {served}."
            )
        model = next((m for m in models if m.running), models[0])
        if model.running:
            return Route(model, "QUEUED", QUEUED)
        failure = model.cannot_run(model_key)
        if failure:
            return Route(None, "ERROR", failure)
        return Route(model, "DEPLOYING", DEPLOYING)

    def find(self, model_key: str) -> list[ServedModel]:
        wanted = keys.normalize(model_key)
        return [m for m in self.models if m.normalized_key == wanted and m.status != "DELETING"]

    def keys(self) -> list[str]:
        return sorted({m.model_key for m in self.models if m.status != "DELETING"})

    def status(self, warm: Iterable[dict[str, Any]] = ()) -> dict[str, Any]:
        """``GET /status`` in NDIF's shape: one entry per replica, keyed like NDIF's actors, and one
        WARM entry per node that keeps the weights of a model nothing serves (``warm``: the warm
        stores' entries)."""
        deployments: dict[str, Any] = {}
        served = {m.normalized_key for m in self.models if m.status != "DELETING"}
        for copy in warm:
            if keys.normalize(copy["key"]) in served:
                continue
            deployments[f"{copy['node_id'][:12]}:ModelActor:{copy['key']}"] = {
                "model_key": copy["key"],
                "deployment_level": "WARM",
                "pinned": False,
                "application_state": "NOT_STARTED",
                **keys.describe(copy["key"]),
            }
        for model in self.models:
            if model.status == "DELETING":
                continue
            entry = {
                "model_key": model.model_key,
                "deployment_level": "HOT",
                "pinned": True,
                "application": model.application,
                **keys.describe(model.model_key),
            }
            if not model.replicas:
                state = "UNHEALTHY" if model.status in ("DEPLOY_FAILED", "UNHEALTHY") else "DEPLOYING"
                deployments[f"{model.application}:ModelActor:{model.model_key}"] = {
                    **entry,
                    "application_state": state,
                }
            for replica in model.replicas:
                deployments[f"{replica.id}:ModelActor:{model.model_key}"] = {
                    **entry,
                    "replica_id": replica.id,
                    "application_state": _REPLICA_STATES.get(replica.state, "UNHEALTHY"),
                }
        return {"deployments": deployments}
