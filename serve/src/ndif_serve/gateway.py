"""NDIF's API for nnsight 0.8.1's client, as a Ray Serve application (the transport): the websocket
``/subscribe``, ``POST /request``, ``GET /response/{id}``, result downloads, ``/status``, ``/env``,
``/whoami`` and ``/ping``. Jobs run on the model replicas through Serve handles; their statuses
go through one JobBroker, so they reach the subscribing websocket whichever gateway replica took
the POST."""

# No `from __future__ import annotations`: Serve's ingress wrapper hides the module globals that
# FastAPI needs to resolve string annotations.
import asyncio
import hmac
import io
import json
import logging
import secrets
import socket
import sys
import time
import uuid
from dataclasses import replace
from typing import Any, Literal, Optional

import torch
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ray import serve
from ray.exceptions import RayActorError
from ray.serve.exceptions import DeploymentUnavailableError
from starlette.websockets import WebSocketDisconnect

from . import observability, warm_store
from .auth import ApiKeys, Identity, KeysUnavailable
from .catalog import DEPLOYING, Catalog, Route, served_models, undescribed
from .fairness import FairQueue, Limits, Refused
from .jobs import Frame, JobBroker, LastFrames
from .ondemand import Demand, OnDemandSettings
from .store import JobStore, StoreSettings
from .settings import TRUSTED_TAG, InProcess, InvalidArguments, problems

logger = logging.getLogger("ray.serve")

MiB = 1024 * 1024
GATEWAY_APPLICATION = "ndif-gateway"
API_KEY_HEADER = "ndif-api-key"
OPERATOR_TOKEN_HEADER = "ndif-operator-token"

RECEIVED = "Your job has been received and is waiting to be queued."
COMPLETED = "Your job has been completed."
# A job that nothing ran yet is sent again while Serve says the model is unavailable (a handle
# older than the application, or its replica starting), about this long in all before it fails.
UNAVAILABLE_RETRIES = 20
UNAVAILABLE_BACKOFF_SECONDS = 0.5
# How long a POST waits for the session its websocket got on another replica to be open in the
# broker: that replica opens it without making the client wait, and opens it again in a broker
# that restarted (longer then: gateway replicas learn of the new broker at different times).
SESSION_OPEN_WAIT_SECONDS = 2.0
SESSION_REOPEN_WAIT_SECONDS = 10.0
# The statuses after which a job sends nothing more.
FINAL_STATUSES = ("COMPLETED", "ERROR")
# A job's last frame sent through the embedded broker to another replica's websocket is kept
# here this long (the broker passes a frame on within milliseconds) and sent again if the broker
# was replaced meanwhile (seen when the replica next says it is alive).
LAST_FRAME_SETTLE_SECONDS = 5.0
# How long a request waits for a starting replica's first read of Serve's applications.
CATALOG_WAIT_SECONDS = 30.0
# How long a call waits for the embedded broker's replica to be replaced when it died (Serve
# starts another within seconds; what the dead one held is lost: a store keeps it).
BROKER_RESTART_SECONDS = 30.0
GATEWAY_STOPPED = (
    "The NDIF gateway replica that ran your job stopped (an upgrade or a scale-down) before it"
    " finished; please try again."
)
RUNNER_LOST = (
    "The NDIF gateway replica that ran your job stopped answering before the job finished (it"
    " was killed or its node was lost); please try again."
)
# How often a replica tells the embedded broker it is alive (the broker ends the jobs of one
# that stopped: RUNNER_LAPSE_SECONDS in jobs.py).
ALIVE_SECONDS = 2.0
BROKER_RESTARTING = (
    "This NDIF gateway's job broker is restarting; try again in a moment (a job store in Redis"
    " keeps jobs through such restarts)."
)


class GatewaySettings(BaseModel):
    """What the operator puts in the gateway application's ``args``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    auth: Literal["ApiKeys", "None"] = "ApiKeys"
    keys_file: Optional[str] = Field(default=None, min_length=1)
    max_request_bytes: int = Field(default=64 * MiB, ge=1024)
    # A request whose body stops arriving for this long is answered (408) instead of waited
    # for: Serve's proxy can hand a request to a second replica after the first one, which had
    # already read its body, died; the second would wait for that body for ever.
    request_body_idle_seconds: float = Field(default=30, gt=0, le=600)
    max_inline_result_bytes: int = Field(default=16 * MiB, ge=0)
    max_result_bytes: int = Field(default=2048 * MiB, ge=1)
    result_ttl_seconds: float = Field(default=600, gt=0)
    catalog_refresh_seconds: float = Field(default=5, gt=0, le=30)
    cluster: Optional[str] = None
    in_process: InProcess = "nobody"
    # How long a removed model replica finishes its running request (the model applications'
    # graceful shutdown; here for the sentence), and how long a job whose model has no replica
    # waits for one to come back.
    drain_grace_seconds: float = Field(default=300, ge=0)
    max_wait_seconds: float = Field(default=600, ge=0)
    # Models the operator deploys when a job asks for them (None: only what is deployed).
    on_demand: Optional[OnDemandSettings] = None
    # The operator sends it with each exchange (/operator/demand); None: no exchange.
    operator_token: Optional[str] = Field(default=None, min_length=16)
    # The warm tier's budget per node, as the model replicas have it; 0: no warm tier, so the
    # nodes' stores are not read.
    warm_budget_bytes: int = Field(default=0, ge=0)
    # Jobs in a Redis the owner names (None: the in-memory broker, for one machine).
    store: Optional[StoreSettings] = None
    # Each replica also serves NDIF's API on this port itself, without Serve's HTTP proxy in
    # between (replicas on one node share it: the kernel spreads connections among them).
    direct_port: Optional[int] = Field(default=None, ge=1, le=65535)
    direct_host: str = Field(default="0.0.0.0", min_length=1)

    @classmethod
    def from_args(cls, args: Optional[dict[str, Any]]) -> "GatewaySettings":
        try:
            settings = cls.model_validate(args or {})
        except ValidationError as e:
            raise InvalidArguments(f"invalid gateway arguments: {problems(e)}") from None
        if settings.auth == "ApiKeys" and not settings.keys_file:
            raise InvalidArguments(
                "invalid gateway arguments: keys_file: required when auth is ApiKeys (turn auth"
                " off explicitly with auth: None)"
            )
        return settings


class Envelope(BaseModel):
    """nnsight's RequestModel as the client sends it in the ``data`` field."""

    model_key: str = Field(min_length=1, max_length=4096)
    session_id: str = ""
    compress: bool = False
    env: dict[str, Any] = {}


class GatewayError(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


class BrokerUnavailable(GatewayError):
    def __init__(self, detail: str):
        super().__init__(503, detail)


def response(job_id: str, status: str, description: str = "", data=None, meta=None) -> dict:
    return {"id": job_id, "status": status, "description": description, "data": data, "meta": meta}


def pickled(message: dict) -> bytes:
    """A binary websocket frame: what nnsight's ResponseModel.pickle() writes."""
    buffer = io.BytesIO()
    torch.save(message, buffer, pickle_protocol=4)
    return buffer.getvalue()


def local_env() -> dict[str, Any]:
    """``GET /env``: this Python and its packages by import name, as nnsight.compare() reads
    (nnsight's own get_local_env, without its scan for local modules). Written here so that the
    gateway never imports nnsight, which would put `.save` on every object in this process."""
    from importlib.metadata import distributions, packages_distributions

    imports: dict[str, list[str]] = {}
    for name, dists in packages_distributions().items():
        for dist in dists:
            imports.setdefault(dist, []).append(name)
    packages = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        for import_name in imports.get(name, [name]):
            packages[import_name] = dist.version
    return {"python_version": sys.version, "packages": packages}


def runs_contained(policy: str, identity: Optional[Identity]) -> bool:
    """Whether a caller's job runs contained under the cluster's trust policy: everyone's is but
    for ``everyone``, and a key tagged ``trusted`` under ``trusted``."""
    if policy == "everyone":
        return False
    if policy == "trusted":
        return identity is None or TRUSTED_TAG not in identity.tags
    return True


class ModelGone(Exception):
    """The job's model had no replica for longer than the gateway's max_wait_seconds."""


# A job whose gateway replica stopped is run again by another, at most this many times in all.
MAX_ATTEMPTS = 3
RESUMED = (
    "The gateway replica that had your job stopped; another took it over and runs it again."
)


def gave_up_after_replicas(times: int) -> str:
    return (
        f"Your job was not finished: the gateway replica running it stopped {times} times. It"
        " was not run again; send it again later."
    )


def gone_waiting(model_key: str, limit: float) -> str:
    return (
        f"The model {model_key} has no replica now (it was preempted, scaled down or removed);"
        f" your job waits for another replica or for the model to come back, up to {limit:g} s."
    )


def gone_for_good(model_key: str, limit: float) -> str:
    return (
        f"The model {model_key} did not come back within {limit:g} s after it was preempted,"
        " scaled down or removed; your job did not start. Send it again later."
    )


def stopped_by_drain(model_key: str, grace: float) -> str:
    return (
        f"Your job was stopped: the replica of {model_key} running it was removed (preempted,"
        f" scaled down or deleted) and the job did not finish within the cluster's drain grace"
        f" period of {grace:g} s."
    )


def _epoch_ns(monotonic: float) -> int:
    """A time.monotonic() instant as the epoch nanoseconds spans are stamped with."""
    return time.time_ns() - int((time.monotonic() - monotonic) * 1e9)


async def _quietly(closing) -> None:
    try:
        await closing
    except Exception as e:  # a handle of a deleted application may fail to close; nothing waits
        logger.debug("closing a handle: %s", e)


def _failure_outcome(error: BaseException) -> str:
    from ray.serve.exceptions import BackPressureError

    return "QUEUE_FULL" if isinstance(error, BackPressureError) else "ERROR"


def _failure_message(error: BaseException, envelope: Envelope) -> str:
    from ray.serve.exceptions import BackPressureError

    if isinstance(error, asyncio.CancelledError):
        return GATEWAY_STOPPED
    if isinstance(error, DeploymentUnavailableError):
        return (
            f"The model {envelope.model_key} has no replica that can start (Serve reports its"
            " deployment unavailable); its owner sees why in the deployment's status. Please try"
            " again later."
        )
    if isinstance(error, BackPressureError):
        return (
            f"The queue of the model {envelope.model_key} is full; your job was not queued."
            " Try again in a moment."
        )
    logger.error("job for %s failed in the gateway", envelope.model_key, exc_info=error)
    return (
        f"The model replica running your job stopped ({type(error).__name__}); please try"
        " again."
    )


api = FastAPI(title="ndif-gateway", docs_url=None, redoc_url=None, openapi_url=None)


@api.exception_handler(GatewayError)
async def _gateway_error(_: Request, error: GatewayError):
    return JSONResponse({"detail": error.detail}, status_code=error.status)


class _Call:
    def __init__(self, method):
        self._method = method

    def remote(self, *args, **kwargs) -> asyncio.Task:
        # Scheduled at once, as a Serve handle call is, whether or not the caller awaits it.
        return asyncio.ensure_future(self._method(*args, **kwargs))


class _Calls:
    """The store behind the broker's calling convention (``broker.method.remote(...)``)."""

    def __init__(self, target):
        self._target = target

    def __getattr__(self, name: str) -> _Call:
        return _Call(getattr(self._target, name))


@serve.deployment(name="JobBroker", num_replicas=1, max_ongoing_requests=100_000)
class JobBrokerDeployment(JobBroker):
    """The JobBroker as the one replica every gateway replica talks to."""


@serve.deployment(name="Gateway", max_ongoing_requests=10_000)
@serve.ingress(api)
class Gateway:
    def __init__(self, settings: GatewaySettings, broker):
        self.settings = settings
        # With a store, every replica keeps jobs there itself: no broker between them.
        self.store = (
            JobStore(settings.store, settings.result_ttl_seconds) if settings.store else None
        )
        self.broker = _Calls(self.store) if self.store is not None else broker
        self.replica = uuid.uuid4().hex[:12]
        self._held: set[str] = set()
        self._handing_over: set[str] = set()
        self._catalog_ready = asyncio.Event()
        self.metrics = observability.GatewayMetrics()
        self.keys = (
            ApiKeys(settings.keys_file, on_load=self.metrics.plain_keys)
            if settings.auth == "ApiKeys"
            else None
        )
        self.catalog = Catalog()
        self.catalog_error: Optional[str] = None
        self.env = local_env()
        self.tracer = observability.tracer()
        self._handles: dict[str, Any] = {}
        self._described: dict[tuple, Optional[str]] = {}
        self._local: dict[str, asyncio.Queue] = {}
        self._latest: dict[str, asyncio.Task] = {}
        self._last_frames = LastFrames(LAST_FRAME_SETTLE_SECONDS)
        # Jobs running here, registered in the embedded broker: told again to a broker that
        # replaced it (id -> owner, session, status if lost), and the broker last seen.
        self._registered: dict[str, tuple[Optional[str], str, Optional[str]]] = {}
        self._broker_seen: Optional[str] = None
        self._tasks: set[asyncio.Task] = set()
        self.fair = FairQueue()
        self._released: dict[str, asyncio.Event] = {}
        self.demand = Demand(settings.on_demand) if settings.on_demand is not None else None
        # What the nodes' warm stores keep: reported in /status and to the operator.
        self.warm: list[dict[str, Any]] = []
        self._draining: Optional[asyncio.Task] = None
        self._refresher = asyncio.get_event_loop().create_task(self._refresh_catalog())
        self._leaser = (
            asyncio.get_event_loop().create_task(self._keep_leases())
            if self.store is not None
            else None
        )
        self._alive = (
            asyncio.get_event_loop().create_task(self._say_alive()) if self.store is None else None
        )
        self._direct: Optional[asyncio.Task] = None
        self._direct_server = None
        if settings.direct_port is not None:
            self._direct = asyncio.get_event_loop().create_task(self._serve_directly())

    async def _serve_directly(self) -> None:
        """NDIF's API on the direct port, from this replica's own HTTP server: the same routes,
        handlers and replica state as through Serve's proxy, one process hop fewer."""
        import uvicorn

        host, port = self.settings.direct_host, self.settings.direct_port
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            listener.bind((host, port))
        except OSError as e:
            listener.close()
            logger.error("cannot serve NDIF's API directly on %s:%d: %s", host, port, e)
            return
        listener.listen(1024)
        listener.setblocking(False)
        self._direct_server = uvicorn.Server(
            uvicorn.Config(api, lifespan="off", access_log=False, log_level="warning")
        )
        logger.info("serving NDIF's API directly on %s:%d", host, port)
        await self._direct_server.serve(sockets=[listener])

    def _resend_lost_frames(self, incarnation: str) -> None:
        """Last frames that a broker before this one took and could not pass on, sent again."""
        for job_id, sent in self._last_frames.lost(incarnation, time.monotonic()):
            logger.warning(
                "job %s: the job broker was replaced before it passed on the job's last status;"
                " sending it again",
                job_id,
            )
            self._start(
                job_id,
                self._publish_when_open(job_id, sent.session_id, sent.text, sent.binary, sent.keep),
            )

    def _if_lost(self, job_id: str) -> Optional[str]:
        """The status the embedded broker ends the job with if this replica goes first."""
        if self.store is not None:
            return None
        return json.dumps(response(job_id, "ERROR", RUNNER_LOST))

    async def _say_alive(self) -> None:
        while True:
            try:
                incarnation = await self._to_broker("alive", self.replica)
                if self._broker_seen is not None and incarnation != self._broker_seen:
                    # A new broker knows none of the jobs running here.
                    jobs = [(j, *known) for j, known in self._registered.items()]
                    await self._to_broker("adopt", jobs, self.replica)
                    logger.info("told the new job broker of %d running job(s)", len(jobs))
                self._broker_seen = incarnation
                self._resend_lost_frames(incarnation)
            except Exception as e:  # the broker restarting: said again next time
                logger.warning("cannot tell the job broker this replica is alive: %s", e)
            await asyncio.sleep(ALIVE_SECONDS)

    async def _keep_leases(self) -> None:
        """Renews the leases of the jobs this replica runs, and takes over the jobs of replicas
        that stopped renewing theirs (they were killed, scaled down or upgraded)."""
        period = self.store.settings.lease_seconds / 3
        while True:
            try:
                await self.store.renew(sorted(self._held))
                # Jobs are taken over once this replica knows what Serve serves.
                taken = await self.store.take_over(self.replica) if self._catalog_ready.is_set() else []
                for job_id, request, payload, previous in taken:
                    await self._resume(job_id, request, payload, previous)
            except Exception as e:  # the store away for a moment: try again next period
                logger.warning("cannot keep the jobs' leases in the store: %s", e)
            await asyncio.sleep(period)

    async def _resume(self, job_id: str, request: dict, payload: bytes, previous: str) -> None:
        """Runs again a job whose gateway replica stopped before it ended; nothing it had
        computed reached the caller, so the caller gets the result of this run."""
        attempts = int(request.get("attempts", 1)) + 1
        envelope = Envelope.model_validate(request["envelope"])
        who = request.get("identity")
        identity = Identity(who["name"], tuple(who["tags"])) if who is not None else None
        if attempts > MAX_ATTEMPTS:
            await self._publish(job_id, envelope.session_id, response(
                job_id, "ERROR", gave_up_after_replicas(attempts - 1)))
            await self.store.release(job_id)
            return
        request["attempts"] = attempts
        logger.info("job %s: taking it over from gateway replica %s (attempt %d)", job_id,
                    previous or "unknown", attempts)
        await self.store.hold(job_id, self.replica, request, payload)
        self._held.add(job_id)
        route = self.catalog.route(envelope.model_key)
        provision = (
            route.model is None
            and self.demand is not None
            and not self.catalog.find(envelope.model_key)
            and self.demand.allows(envelope.model_key)
        )
        if route.model is None and not provision:
            self._held.discard(job_id)
            await self._publish(job_id, envelope.session_id, response(
                job_id, "ERROR", route.description or f"The model {envelope.model_key} is not"
                " served here."))
            await self.store.release(job_id)
            return
        await self._publish(job_id, envelope.session_id, response(
            job_id, "QUEUED", RESUMED))
        self._start(job_id, self._run_held(
            job_id, envelope, payload, request["base_url"], identity, route.model))

    async def __del__(self):
        """Serve's graceful shutdown of this replica: what the drain has not done yet."""
        await self._stop_jobs()

    async def _drain(self, grace: float) -> None:
        """This replica is stopping (an upgrade, a scale-down, its application deleted): Serve
        sends it nothing new and kills it when its graceful timeout ends, without waiting for the
        websockets its jobs report to. Running jobs get what is left of the timeout to finish;
        then they are stopped while this replica can still tell their websockets why."""
        logger.info("stopping: %d running job(s) get %.1f s to finish", len(self._tasks), grace)
        self._stop_accepting()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)
        await self._stop_jobs()

    def _stop_accepting(self) -> None:
        """New connections to the direct port go to the node's other replicas from now on; the
        open ones stay until their jobs are answered."""
        server = getattr(self, "_direct_server", None)
        for listening in getattr(server, "servers", None) or []:
            listening.close()

    async def _stop_jobs(self) -> None:
        """With a store, running jobs are handed over, so another replica runs them at once;
        without one, they end with a sentence that reaches their websockets."""
        try:
            await self._end_jobs()
        finally:
            server = getattr(self, "_direct_server", None)
            if server is not None:
                server.should_exit = True

    async def _end_jobs(self) -> None:
        running = [t for t in getattr(self, "_tasks", ()) if not t.done()]
        store = getattr(self, "store", None)
        if store is None:
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running, timeout=5)
                # The websockets open here send the ERROR frames before the replica goes.
                await asyncio.sleep(0.5)
                logger.info("stopping: %d running job(s) ended with a sentence", len(running))
            return
        held = sorted(self._held)
        self._handing_over.update(held)
        for task in running:
            task.cancel()
        try:
            await store.hand_over(held)
            logger.info("stopping: handed %d job(s) over to the other gateway replicas", len(held))
        except Exception as e:
            logger.warning("stopping: could not hand jobs over (their leases run out): %s", e)

    def _notice_stopping(self, details: dict[str, Any]) -> None:
        """Starts the drain once Serve's details show this replica stopping."""
        if self._draining is not None:
            return
        try:
            context = serve.get_replica_context()
        except Exception:  # not in a replica (a unit test)
            return
        app = (details.get("applications") or {}).get(context.app_name) or {}
        deployment = (app.get("deployments") or {}).get(context.deployment) or {}
        mine = [
            r
            for r in deployment.get("replicas") or []
            if str(r.get("replica_id")) == context.replica_id.unique_id
        ]
        stopping = str(getattr(app.get("status"), "value", app.get("status"))) == "DELETING" or any(
            str(getattr(r.get("state"), "value", r.get("state"))) == "STOPPING" for r in mine
        )
        if not stopping:
            return
        timeout = context._deployment_config.graceful_shutdown_timeout_s
        # Noticed up to one catalog refresh late; a second kept to send the answers.
        grace = max(0.0, timeout - self.settings.catalog_refresh_seconds - 1.0)
        self._draining = asyncio.get_running_loop().create_task(self._drain(grace))

    async def _run_held(self, job_id, envelope, payload, base_url, identity, model) -> None:
        """A job kept in the store: released once it ended here; a replica that stops while
        running it leaves it for another. Without a model, it waits for one deployed on
        demand."""
        try:
            if model is None:
                await self._provision(job_id, envelope, payload, base_url, identity)
            else:
                await self._run_job(job_id, envelope, payload, base_url, identity, model)
        except asyncio.CancelledError:
            raise
        finally:
            self._held.discard(job_id)
        await self.store.release(job_id)

    def _start(self, job_id: str, work) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._job_done)

    async def _refresh_catalog(self) -> None:
        while True:
            await self._read_catalog()
            # Jobs waiting for a model deployed on demand see it the second it is up.
            waiting = self.demand is not None and self.demand.has_waiting()
            await asyncio.sleep(
                min(0.5, self.settings.catalog_refresh_seconds)
                if waiting
                else self.settings.catalog_refresh_seconds
            )

    async def _read_catalog(self) -> None:
        from ray.serve.context import _get_global_client

        try:
            details = await asyncio.to_thread(_get_global_client().get_serve_details)
            for name in undescribed(details):
                # Asked again when the application is redeployed, perhaps with another model.
                deployed = (details["applications"][name].get("last_deployed_time_s"), name)
                if deployed not in self._described:
                    try:
                        self._described[deployed] = await self._describe(name)
                    except Exception as e:  # asked again at the next read
                        logger.info("application %s does not say its model key yet: %s", name, e)
            # An application keeps its key while it is not RUNNING (a replica died, one is
            # starting): its jobs wait for a replica instead of finding the model gone.
            current = {
                (app.get("last_deployed_time_s"), name)
                for name, app in (details.get("applications") or {}).items()
            }
            # What was said about deployments that are gone (deleted, redeployed) is forgotten.
            self._described = {k: v for k, v in self._described.items() if k in current}
            described = {name: key for (_, name), key in self._described.items()}
            self._notice_stopping(details)
            self.catalog = Catalog(served_models(details, described))
            for application in set(self._handles) - set(details.get("applications") or {}):
                self._forget_handle(application)
            self.catalog_error = None
            self._catalog_ready.set()
            if self.settings.warm_budget_bytes > 0:
                self.warm = await asyncio.to_thread(warm_store.all_entries)
            for model in self.catalog.models:
                self._offer(model.application)
        except Exception as e:  # Serve's controller restarting, for one
            self.catalog_error = f"{type(e).__name__}: {e}"
            logger.warning("cannot read Serve's applications: %s", self.catalog_error)

    async def _describe(self, application: str) -> Optional[str]:
        """The key the application's replica says it serves; None when it is no nnsight model.
        Raises when the replica did not answer (busy, starting)."""
        handle = serve.get_app_handle(application).options(method_name="nnsight_model_key")
        return await asyncio.wait_for(handle.remote(), 10)

    # --- who is calling ---------------------------------------------------------------------

    def _identify(self, key: Optional[str]) -> Optional[Identity]:
        """The caller's identity; raises 401/403/503 with a sentence when auth is on."""
        if self.keys is None:
            return None
        try:
            identity = self.keys.identify(key)
        except KeysUnavailable as e:
            raise GatewayError(503, f"This NDIF gateway cannot check API keys: {e}.") from None
        if identity is None:
            if not key:
                raise GatewayError(
                    401,
                    "Missing API key: this NDIF gateway requires one. Set NDIF_API_KEY (or"
                    " nnsight's CONFIG.API.APIKEY) to a key its administrator gave you.",
                )
            raise GatewayError(403, "Invalid API key.")
        return identity

    # --- routes the client calls --------------------------------------------------------------

    @api.get("/ping")
    def ping(self) -> str:
        return "pong"

    @api.get("/env")
    def get_env(self) -> dict[str, Any]:
        return self.env

    @api.get("/status")
    def status(self) -> dict[str, Any]:
        if self.catalog_error and not self.catalog.models:
            raise GatewayError(503, f"The gateway cannot read Ray Serve's state: {self.catalog_error}")
        return self.catalog.status(self.warm)

    @api.get("/whoami")
    def whoami(self, request: Request) -> dict[str, Any]:
        try:
            identity = self.keys.identify(request.headers.get(API_KEY_HEADER)) if self.keys else None
        except KeysUnavailable as e:
            raise GatewayError(503, f"This NDIF gateway cannot check API keys: {e}.") from None
        if identity is None:
            return {"email": None, "tags": []}
        return {"email": identity.name, "tags": list(identity.tags)}

    @api.websocket("/subscribe")
    async def subscribe(self, websocket: WebSocket) -> None:
        try:
            # The opening can be lost as a request's body can (see request_body_idle_seconds).
            await asyncio.wait_for(websocket.accept(), self.settings.request_body_idle_seconds)
        except asyncio.TimeoutError:
            logger.warning("a websocket's opening did not arrive; not waiting for it any longer")
            return
        # The session's id is made here and the client has it at once: the broker opens it
        # meanwhile (no round trip on the request's path). Jobs posted to this replica send this
        # session's frames here directly; jobs posted to another replica send them through the
        # broker, which they wait for (register_job).
        session_id = secrets.token_hex(16)
        local: asyncio.Queue = asyncio.Queue()
        self._local[session_id] = local
        opening = asyncio.ensure_future(self._to_broker("reopen_session", session_id))
        disconnected = asyncio.ensure_future(websocket.receive())
        relayed = None
        # Jobs whose last frame this websocket has yet to send, told to a broker that replaced
        # the one they were registered in.
        pending: dict[str, None] = {}
        try:
            await websocket.send_text(json.dumps({"session_id": session_id}))
            while not disconnected.done():
                if relayed is None:
                    relayed = asyncio.ensure_future(self._next_frames(session_id, opening))
                here = asyncio.ensure_future(local.get())
                await asyncio.wait(
                    {here, relayed, disconnected}, return_when=asyncio.FIRST_COMPLETED
                )
                frames = []
                if here.done():
                    frames.append(here.result())
                    while not local.empty():
                        frames.append(local.get_nowait())
                else:
                    here.cancel()
                if relayed.done():
                    try:
                        batch = relayed.result()
                    except BrokerUnavailable:
                        await websocket.close(code=1013, reason=BROKER_RESTARTING)
                        break
                    except RayActorError as e:
                        # The broker's replica died: frames of jobs posted here still come
                        # straight; the session is opened again in the broker that replaces it.
                        logger.warning("session %s: the job broker died (%s)", session_id, e)
                        relayed = asyncio.ensure_future(self._reopen(session_id, list(pending)))
                        continue
                    relayed = None
                    if batch is None:
                        # Only this replica closes its sessions: the broker that answered is
                        # one that replaced the broker this session was opened in.
                        logger.warning(
                            "session %s: not in the job broker; opening it again", session_id
                        )
                        relayed = asyncio.ensure_future(self._reopen(session_id, list(pending)))
                        continue
                    frames.extend(batch)
                for frame in frames:
                    if frame.job is not None:
                        if frame.final:
                            pending.pop(frame.job, None)
                        else:
                            pending[frame.job] = None
                    if frame.binary is not None:
                        await websocket.send_bytes(frame.binary)
                    else:
                        await websocket.send_text(frame.text)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._local.pop(session_id, None)
            disconnected.cancel()
            if relayed is not None:
                relayed.cancel()
            asyncio.ensure_future(_quietly(self._close_session(session_id, opening)))

    async def _next_frames(self, session_id: str, opening: Optional[asyncio.Future] = None):
        if opening is not None:
            await opening
        return await self.broker.next_frames.remote(session_id, 5.0)

    async def _close_session(self, session_id: str, opening: asyncio.Future) -> None:
        await asyncio.gather(opening, return_exceptions=True)  # never closed before it opened
        await self._to_broker("close_session", session_id)

    async def _reopen(self, session_id: str, pending: list[str]) -> list:
        """Opens the session in the broker that replaced a dead one, with the jobs it waits for;
        no frames meanwhile."""
        try:
            await self._to_broker("reopen_session", session_id)
            if pending and self.store is None:
                await self._to_broker(
                    "expect", session_id, [(job, self._if_lost(job)) for job in pending]
                )
        except BrokerUnavailable:
            logger.error("session %s: the job broker did not come back", session_id)
            await asyncio.sleep(BROKER_RESTART_SECONDS)
        return []

    async def _until_catalog_read(self) -> None:
        """A replica that just started (a restart, a scale-up) answers for models only once it
        has read what Serve serves: never "not served here" for a model that is."""
        if self._catalog_ready.is_set():
            return
        try:
            await asyncio.wait_for(self._catalog_ready.wait(), CATALOG_WAIT_SECONDS)
        except asyncio.TimeoutError:
            raise GatewayError(
                503,
                f"This NDIF gateway replica cannot read Serve's applications yet"
                f" ({self.catalog_error or 'still starting'}); try again in a moment.",
            ) from None

    async def _to_broker(self, method: str, *args):
        """A call to the job broker that outlasts the restart of its replica."""
        deadline = time.monotonic() + BROKER_RESTART_SECONDS
        while True:
            try:
                return await getattr(self.broker, method).remote(*args)
            except RayActorError as e:
                if time.monotonic() >= deadline:
                    raise BrokerUnavailable(BROKER_RESTARTING) from e
                logger.warning("the job broker is unavailable (%s); calling %s again", e, method)
                await asyncio.sleep(0.5)

    async def _register_elsewhere(
        self, job_id: str, owner: Optional[str], session_id: str, first: str, if_lost: Optional[str]
    ) -> bool:
        """Records a job whose websocket is open on another replica, which opens its session in
        the broker without making the client wait: a POST that overtakes that opening waits
        for it a moment."""
        deadline = None
        while True:
            if await self._to_broker(
                "register_job", job_id, owner, session_id, first, self.replica, if_lost
            ):
                return True
            if not session_id:
                return False
            if deadline is None:
                restarted = await self._to_broker("uptime") < BROKER_RESTART_SECONDS
                deadline = time.monotonic() + (
                    SESSION_REOPEN_WAIT_SECONDS if restarted else SESSION_OPEN_WAIT_SECONDS
                )
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)

    @api.post("/request")
    async def create_request(self, request: Request) -> dict[str, Any]:
        identity = self._identify(request.headers.get(API_KEY_HEADER))
        envelope, payload = await self._read_request(request)
        await self._until_catalog_read()
        job_id = uuid.uuid4().hex
        owner = identity.name if identity else None
        route = self.catalog.route(envelope.model_key)
        model = route.model
        provision = False
        if model is None and self.demand is not None and not self.catalog.find(envelope.model_key):
            if self.demand.allows(envelope.model_key):
                provision = True
                route = Route(None, "PROVISIONING", self.demand.describe_wait(envelope.model_key))
            else:
                route = Route(None, "ERROR", self.demand.refused(envelope.model_key))
        first = response(job_id, route.status, route.description)
        if_lost = None if route.status in FINAL_STATUSES else self._if_lost(job_id)
        if if_lost is not None:
            self._registered[job_id] = (owner, envelope.session_id, if_lost)
        local = self._local.get(envelope.session_id) if envelope.session_id else None
        if local is not None:
            # The broker keeps the job for polls; its frames stay on this replica, in order.
            self._in_order(
                job_id,
                "register_job",
                job_id,
                owner,
                "",
                json.dumps(first),
                self.replica,
                if_lost,
            )
            local.put_nowait(
                Frame(text=json.dumps(first), job=job_id, final=route.status in FINAL_STATUSES)
            )
        elif not await self._register_elsewhere(
            job_id, owner, envelope.session_id, json.dumps(first), if_lost
        ):
            self._registered.pop(job_id, None)
            raise GatewayError(
                400,
                f"Session {envelope.session_id} is not open on this gateway: open the websocket"
                " /subscribe first and send the session id it answers.",
            )
        if provision and self.store is None:
            base_url = str(request.base_url).rstrip("/")
            task = asyncio.get_running_loop().create_task(
                self._provision(job_id, envelope, payload, base_url, identity)
            )
            self._tasks.add(task)
            task.add_done_callback(self._job_done)
        elif model is None and not provision:
            self.metrics.request(envelope.model_key, "NOT_SERVED")
            logger.info(
                "job %s for %s from %s: %s",
                job_id,
                envelope.model_key,
                owner or "anonymous",
                first["description"],
            )
        elif self.store is not None:
            base_url = str(request.base_url).rstrip("/")
            record = {
                "envelope": envelope.model_dump(),
                "identity": None if identity is None
                else {"name": identity.name, "tags": list(identity.tags)},
                "base_url": base_url,
                "attempts": 1,
            }
            await self.store.hold(job_id, self.replica, record, payload)
            self._held.add(job_id)
            self._start(job_id, self._run_held(
                job_id, envelope, payload, base_url, identity, model))
        else:
            base_url = str(request.base_url).rstrip("/")
            task = asyncio.get_running_loop().create_task(
                self._run_job(job_id, envelope, payload, base_url, identity, model)
            )
            self._tasks.add(task)
            task.add_done_callback(self._job_done)
        return response(job_id, "RECEIVED", RECEIVED)

    @api.post("/operator/demand")
    async def operator_demand(self, request: Request) -> dict[str, Any]:
        """The operator's exchange: its placement of on-demand deployments in; the demand and what
        the nodes keep warm out."""
        expected = self.settings.operator_token or (
            self.demand.settings.token if self.demand is not None else None
        )
        if expected is None:
            raise GatewayError(404, "This gateway has no exchange with the operator.")
        token = request.headers.get(OPERATOR_TOKEN_HEADER, "")
        if not hmac.compare_digest(token.encode(), expected.encode()):
            raise GatewayError(403, "Only the operator reads the demand.")
        try:
            body = await request.json()
        except ValueError:
            raise GatewayError(400, "The demand report takes a JSON object.") from None
        states = body.get("states") if isinstance(body, dict) else None
        demand = (
            self.demand.report(states if isinstance(states, dict) else {})
            if self.demand is not None
            else {"waiting": {}, "used": {}, "active": {}}
        )
        return {**demand, "warm": self.warm}

    async def _provision(
        self,
        job_id: str,
        envelope: Envelope,
        payload: bytes,
        base_url: str,
        identity: Optional[Identity],
    ) -> None:
        """A job for an allowed model that nothing serves: it waits, saying what the operator
        reports, until the model is served or max_wait_seconds pass."""
        key = envelope.model_key
        self.demand.wait(key, job_id)
        said = None
        deadline = time.monotonic() + self.demand.settings.max_wait_seconds
        try:
            while True:
                found = self.catalog.find(key)
                if found:
                    model = next((m for m in found if m.running), found[0])
                    break
                if time.monotonic() >= deadline:
                    self.metrics.request(key, "NOT_SERVED")
                    message = self.demand.gave_up(key)
                    logger.info("job %s for %s: %s", job_id, key, message)
                    await self._publish(
                        job_id, envelope.session_id, response(job_id, "ERROR", message)
                    )
                    return
                description = self.demand.describe_wait(key)
                if description != said:
                    said = description
                    await self._publish(
                        job_id,
                        envelope.session_id,
                        response(job_id, "PROVISIONING", description),
                    )
                await asyncio.sleep(min(0.5, self.settings.catalog_refresh_seconds))
        finally:
            self.demand.stop_waiting(key, job_id)
        if not model.running:
            await self._publish(
                job_id, envelope.session_id, response(job_id, "DEPLOYING", DEPLOYING)
            )
        await self._run_job(job_id, envelope, payload, base_url, identity, model)

    def _job_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a job's task failed", exc_info=task.exception())

    async def _read_request(self, request: Request) -> tuple[Envelope, bytes]:
        limit = self.settings.max_request_bytes
        too_large = GatewayError(
            413,
            f"The request is larger than this gateway's limit of {limit} bytes ({limit / MiB:g}"
            " MiB); save less, or split the work over several traces.",
        )
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            raise too_large
        body = bytearray()
        chunks = request.stream().__aiter__()
        idle = self.settings.request_body_idle_seconds
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), idle)
            except StopAsyncIteration:
                break
            except asyncio.TimeoutError:
                raise GatewayError(
                    408,
                    f"The request's body stopped arriving for {idle:g} s (its connection stalled,"
                    " or the gateway replica that first took it stopped); please send it again.",
                ) from None
            body += chunk
            if len(body) > limit:
                raise too_large

        async def replay():
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        try:
            form = await Request(request.scope, replay).form(max_part_size=limit)
        except Exception as e:
            raise GatewayError(
                400, f"The request is not the multipart form nnsight sends: {e}"
            ) from None
        data, blob = form.get("data"), form.get("blob")
        if not isinstance(data, str) or blob is None or isinstance(blob, str):
            raise GatewayError(
                400, "The request needs a 'data' field (the JSON envelope) and a 'blob' file."
            )
        try:
            envelope = Envelope.model_validate_json(data)
        except ValidationError as e:
            raise GatewayError(422, f"The request's envelope is invalid: {problems(e)}") from None
        return envelope, await blob.read()

    @api.get("/response/{job_id}")
    async def get_response(self, job_id: str, request: Request) -> Response:
        identity = self._identify(request.headers.get(API_KEY_HEADER))
        latest = await self._to_broker("latest", job_id, identity.name if identity else None)
        if latest is None:
            raise GatewayError(404, f"No response for request {job_id}.")
        return Response(latest, media_type="application/json")

    @api.get("/result/{token}")
    async def get_result(self, token: str) -> Response:
        blob = await self._to_broker("take_result", token)
        if blob is None:
            raise GatewayError(
                404, "This result link is unknown, has expired or was already downloaded."
            )
        return Response(blob, media_type="application/octet-stream")

    # --- running a job ------------------------------------------------------------------------

    async def _publish(
        self, job_id: str, session_id: str, message: dict, binary: Optional[bytes] = None
    ) -> None:
        """Sends a status to the job's websocket (directly when it is open on this replica) and
        keeps it, unless it is a LOG line, as the job's latest for polls."""
        text = json.dumps(message)
        keep = message["status"] != "LOG"
        final = message["status"] in FINAL_STATUSES
        if final:
            self._registered.pop(job_id, None)
        local = self._local.get(session_id) if session_id else None
        if local is None:
            incarnation = await self._to_broker(
                "publish", job_id, session_id, text, binary, keep, final
            )
            if incarnation:
                if self.store is None and message["status"] in FINAL_STATUSES:
                    self._last_frames.sent(
                        job_id, session_id, text, binary, keep, incarnation, time.monotonic()
                    )
                return
            if session_id and message["status"] in FINAL_STATUSES:
                # The session is not open in the broker: after a restart of the broker's replica
                # its websocket's gateway replica may not have opened it again yet. The last
                # frame must reach it, or a blocking client waits for ever.
                self._start(job_id, self._publish_when_open(job_id, session_id, text, binary, keep))
            return
        local.put_nowait(
            Frame(text=None if binary is not None else text, binary=binary, job=job_id, final=final)
        )
        if keep:
            self._in_order(job_id, "publish", job_id, "", text, None, True, final)

    async def _publish_when_open(
        self, job_id: str, session_id: str, text: str, binary: Optional[bytes], keep: bool
    ) -> None:
        deadline = time.monotonic() + SESSION_REOPEN_WAIT_SECONDS
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            if await self._to_broker("publish", job_id, session_id, text, binary, keep, True):
                return
        logger.info("job %s: its session %s closed before its last status", job_id, session_id)

    def _in_order(self, job_id: str, method: str, *args) -> None:
        """Makes a broker call for the job without waiting for it, after the job's previous such
        call: the broker records the latest status of a job whose frames go straight to a
        websocket here."""
        previous = self._latest.get(job_id)

        async def send():
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            try:
                await self._to_broker(method, *args)
            except BrokerUnavailable as e:
                logger.error("job %s: its status was not kept: %s", job_id, e)

        task = asyncio.get_running_loop().create_task(send())
        self._latest[job_id] = task
        task.add_done_callback(
            lambda t: self._latest.pop(job_id, None) if self._latest.get(job_id) is t else None
        )

    async def _run_job(
        self,
        job_id: str,
        envelope: Envelope,
        payload: bytes,
        base_url: str,
        identity: Optional[Identity],
        model,
    ) -> None:
        received = time.monotonic()
        contained = runs_contained(self.settings.in_process, identity)
        path = "contained" if contained else "in-process"
        key_name = identity.name if identity and identity.name else "anonymous"
        limits = self.keys.limits(identity) if self.keys is not None else Limits()
        if self.demand is not None:
            self.demand.started(envelope.model_key)
        try:
            await self._queue_and_run(
                job_id, envelope, payload, base_url, model, contained, path, key_name, limits,
                received,
            )
        finally:
            if self.demand is not None:
                self.demand.ended(envelope.model_key)

    async def _queue_and_run(
        self, job_id, envelope, payload, base_url, model, contained, path, key_name, limits,
        received,
    ) -> None:
        session = envelope.session_id
        started = None
        outcome = "ERROR"
        try:
            self.fair.submit(
                job_id, model.application, key_name, limits, self._model_limit(model.application)
            )
        except Refused as e:
            self.metrics.refused(key_name, e.limit)
            self.metrics.request(envelope.model_key, "QUEUE_FULL")
            message = (
                f"The queue of the model {envelope.model_key} is full ({e}); your job was not"
                " queued. Try again in a moment."
                if e.limit == "model"
                else str(e)
            )
            logger.info(
                "job %s for %s from %s: refused: %s", job_id, envelope.model_key, key_name, message
            )
            await self._publish(job_id, envelope.session_id, response(job_id, "ERROR", message))
            return
        try:
            await self._wait_for_turn(job_id, envelope, model.application)
        except ModelGone:
            self._finish(job_id)
            self.metrics.request(envelope.model_key, "ERROR")
            await self._publish(
                job_id,
                session,
                response(
                    job_id, "ERROR", gone_for_good(envelope.model_key, self.settings.max_wait_seconds)
                ),
            )
            return
        except BaseException:
            self._finish(job_id)
            raise
        self.metrics.path(key_name, path)
        with self.tracer.start_as_current_span("nnsight.request") as span:
            span.set_attribute("ndif.job_id", job_id)
            span.set_attribute("ndif.model_key", envelope.model_key)
            span.set_attribute("ndif.path", path)
            # The request's hops, as events of its span: where the time goes (docs/failures.md
            # and docs/benchmarks.md read them).
            span.add_event("gateway.received", timestamp=_epoch_ns(received))
            span.add_event("gateway.released")
            try:
                job = {
                    "id": job_id,
                    "payload": payload,
                    "compress": envelope.compress,
                    "env": envelope.env,
                    "contained": contained,
                }
                unavailable = 0
                while True:
                    try:
                        span.add_event("handle.called")
                        stream = self._handle(model.application).remote(job)
                        async for event in self._until_it_cannot_start(
                            stream, model.application, envelope.model_key
                        ):
                            status = event["status"]
                            if status == "RUNNING":
                                started = time.monotonic()
                                span.add_event("replica.running")
                                self.metrics.queued(envelope.model_key, started - received)
                            if status == "COMPLETED":
                                span.add_event("replica.result")
                                await self._deliver(job_id, session, event, base_url)
                                span.add_event("gateway.delivered")
                                outcome = "COMPLETED"
                            else:
                                await self._publish(
                                    job_id,
                                    session,
                                    response(job_id, status, event.get("description", ""),
                                             meta=event.get("meta")),
                                )
                                if status == "ERROR":
                                    outcome = "ERROR"
                        break
                    except Exception as e:
                        if started is None and isinstance(e, DeploymentUnavailableError):
                            # A handle made before the application was deleted and deployed again
                            # refuses until its replica runs: a new handle waits for it instead.
                            self._forget_handle(model.application)
                            unavailable += 1
                            if (
                                unavailable <= UNAVAILABLE_RETRIES
                                and not await self._model_went_away(model.application)
                                and not self._cannot_run(model.application, envelope.model_key)
                            ):
                                await asyncio.sleep(UNAVAILABLE_BACKOFF_SECONDS)
                                continue
                            failure = self._cannot_run(model.application, envelope.model_key)
                            if failure:
                                raise GatewayError(503, failure) from e
                        # Nothing of the job ran yet and its replica went away (preempted, scaled
                        # down, removed): it waits for another replica instead of failing.
                        if started is not None or not await self._model_went_away(
                            model.application
                        ):
                            raise
                        logger.info(
                            "job %s for %s: its replica went away before it started (%s);"
                            " waiting for another",
                            job_id,
                            envelope.model_key,
                            type(e).__name__,
                        )
                        self._finish(job_id)
                        self.fair.submit(
                            job_id, model.application, key_name, replace(limits, queued=1 << 30)
                        )
                        await self._wait_for_turn(job_id, envelope, model.application)
            except ModelGone:
                outcome = "ERROR"
                await self._publish(
                    job_id,
                    session,
                    response(
                        job_id,
                        "ERROR",
                        gone_for_good(envelope.model_key, self.settings.max_wait_seconds),
                    ),
                )
            except GatewayError as e:
                await self._publish(job_id, session, response(job_id, "ERROR", e.detail))
            except BaseException as e:  # cancelled too: the user hears of it either way
                if not isinstance(e, Exception) and job_id in self._handing_over:
                    # Another replica runs it again and answers: no ERROR for the caller.
                    raise
                outcome = _failure_outcome(e)
                message = (
                    stopped_by_drain(envelope.model_key, self.settings.drain_grace_seconds)
                    if isinstance(e, Exception)
                    and started is not None
                    and await self._model_went_away(model.application)
                    else _failure_message(e, envelope)
                )
                await self._publish(job_id, session, response(job_id, "ERROR", message))
                if not isinstance(e, Exception):
                    raise
            finally:
                self._finish(job_id)
                finished = time.monotonic()
                if started is not None:
                    self.metrics.executed(envelope.model_key, finished - started)
                self.metrics.request(envelope.model_key, outcome)
                span.set_attribute("ndif.outcome", outcome)
                logger.info(
                    "job %s for %s from %s (%s): %s in %.3f s",
                    job_id,
                    envelope.model_key,
                    key_name,
                    path,
                    outcome,
                    finished - received,
                )

    async def _model_went_away(self, application: str) -> bool:
        """Whether the application is gone or being deleted, read from Serve now rather than from
        the last refresh of the catalog."""
        await self._read_catalog()
        return self._gone(application)

    def _cannot_run(self, application: str, model_key: str) -> Optional[str]:
        model = self._model(application)
        return model.cannot_run(model_key) if model is not None else None

    async def _until_it_cannot_start(self, stream, application: str, model_key: str):
        """The events of a replica's stream. Until the first comes (the replica says RUNNING as
        it takes the job) the job waits in Serve for a replica; if Serve gives up starting them,
        the job is withdrawn and ends with the reason rather than waiting for ever."""
        waiting = True
        while True:
            following = asyncio.ensure_future(stream.__anext__())
            while waiting:
                done, _ = await asyncio.wait(
                    {following}, timeout=self.settings.catalog_refresh_seconds
                )
                if done:
                    break
                failure = self._cannot_run(application, model_key)
                if failure:
                    following.cancel()
                    stream.cancel()
                    raise GatewayError(503, failure)
            try:
                event = await following
            except StopAsyncIteration:
                return
            waiting = False
            yield event

    def _gone(self, application: str) -> bool:
        model = self._model(application)
        return model is None or model.status == "DELETING"

    # --- fair share between keys -------------------------------------------------------------

    async def _wait_for_turn(self, job_id: str, envelope: Envelope, application: str) -> None:
        """Returns when the fair queue gives the job a replica's slot; says QUEUED meanwhile.
        While the model has no replica at all the job waits up to max_wait_seconds for one, then
        raises ModelGone."""
        released = self._released[job_id] = asyncio.Event()
        self._offer(application)
        if released.is_set():
            return
        waiting = self.fair.waiting(application) - 1
        await self._publish(
            job_id,
            envelope.session_id,
            response(
                job_id,
                "QUEUED",
                f"Your job is waiting for a replica of the model, with {waiting} other job(s)"
                " waiting; keys are served in turn.",
            ),
        )
        gone_since: Optional[float] = None
        while not released.is_set():
            try:
                await asyncio.wait_for(released.wait(), self.settings.catalog_refresh_seconds)
                return
            except asyncio.TimeoutError:
                pass
            if not self._gone(application):
                gone_since = None
                continue
            if gone_since is None:
                gone_since = time.monotonic()
                await self._publish(
                    job_id,
                    envelope.session_id,
                    response(
                        job_id,
                        "QUEUED",
                        gone_waiting(envelope.model_key, self.settings.max_wait_seconds),
                    ),
                )
            elif time.monotonic() - gone_since >= self.settings.max_wait_seconds:
                raise ModelGone()

    def _model(self, application: str):
        return next((m for m in self.catalog.models if m.application == application), None)

    def _slots(self, application: str) -> int:
        """How many jobs the model's replicas take at once (one each); one while none is running,
        so that a job waits in Serve for a replica that is starting."""
        model = self._model(application)
        return max(1, model.running_replicas) if model is not None else 1

    def _model_limit(self, application: str) -> Optional[int]:
        """How many jobs may wait for the model: its queue per replica, for each replica."""
        model = self._model(application)
        if model is None or model.max_queued is None:
            return None
        return model.max_queued * max(1, model.running_replicas)

    def _offer(self, application: str) -> None:
        if self._gone(application):
            return
        for job in self.fair.start(application, self._slots(application)):
            released = self._released.get(job)
            if released is not None:
                released.set()

    def _finish(self, job_id: str) -> None:
        self._released.pop(job_id, None)
        application = self.fair.finish(job_id)
        if application is not None:
            self._offer(application)

    def _forget_handle(self, application: str) -> None:
        handle = self._handles.pop(application, None)
        if handle is not None and hasattr(handle, "shutdown_async"):
            asyncio.ensure_future(_quietly(handle.shutdown_async()))

    def _handle(self, application: str):
        handle = self._handles.get(application)
        if handle is None:
            handle = serve.get_app_handle(application).options(
                method_name="run_nnsight", stream=True
            )
            self._handles[application] = handle
        return handle

    async def _deliver(self, job_id: str, session: str, event: dict, base_url: str) -> None:
        blob: bytes = event["data"]
        meta = event.get("meta")
        if len(blob) > self.settings.max_result_bytes:
            raise GatewayError(
                507,
                f"The result is {len(blob)} bytes, above this gateway's limit of"
                f" {self.settings.max_result_bytes} bytes; save less.",
            )
        if session and len(blob) <= self.settings.max_inline_result_bytes:
            # The frame carries the blob; the latest status kept for polls does not.
            await self._publish(
                job_id,
                session,
                response(job_id, "COMPLETED", COMPLETED, None, meta),
                pickled(response(job_id, "COMPLETED", COMPLETED, blob, meta)),
            )
            return
        token = await self._to_broker("put_result", blob)
        await self._publish(
            job_id, session, response(job_id, "COMPLETED", COMPLETED, f"{base_url}/result/{token}", meta)
        )
