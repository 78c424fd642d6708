"""Jobs in a real Redis: what the broker kept in one replica's memory (sessions' frames, each job's
owner and latest status, results downloaded once) survives every gateway replica, under the
owner's TTLs; a job whose gateway replica stops is taken over by another and run again, and its
caller gets the result, polled with nnsight's own client after every gateway replica restarted."""

import asyncio
import time
import uuid

import httpx
import pytest
import torch

from ndif_serve.jobs import Frame
from ndif_serve.store import JobStore, StoreSettings
from remote_client import client_model, key_of, local_model
from test_gateway import _wait_until_served

API_KEY = "store-key-0123456789"
OTHER_KEY = "store-other-0123456789"


def store(redis_url, **settings) -> JobStore:
    prefix = "t" + uuid.uuid4().hex[:8]  # each test its own keys
    result_ttl = settings.pop("result_ttl_seconds", 600)
    return JobStore(
        StoreSettings(url=redis_url["url"], password_file=redis_url["password_file"],
                      prefix=prefix, **settings),
        result_ttl_seconds=result_ttl,
    )


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_session_gets_its_frames_in_order_and_none_once_closed(redis_url):
    async def scenario():
        jobs = store(redis_url)
        session = await jobs.open_session()
        assert await jobs.register_job("j1", "owner@example.org", session, '{"status": "RECEIVED"}')
        assert await jobs.publish("j1", session, '{"status": "RUNNING"}')
        assert await jobs.publish("j1", session, None, binary=b"\x80pickled")
        frames = await jobs.next_frames(session, 1)
        assert frames == [
            Frame(text='{"status": "RECEIVED"}'),
            Frame(text='{"status": "RUNNING"}'),
            Frame(binary=b"\x80pickled"),
        ]
        assert await jobs.next_frames(session, 1) == []  # waited, nothing new
        await jobs.close_session(session)
        assert await jobs.next_frames(session, 1) is None
        # a job that names a session that is not open is not recorded
        assert not await jobs.register_job("j2", None, "no-such-session")
        assert await jobs.latest("j2", None) is None

    run(scenario())


def test_a_wait_for_frames_as_long_as_the_gateway_asks_ends_empty_not_in_an_error(redis_url):
    """The gateway waits 5 s a call for a session's frames: as long as redis-py's default read
    timeout, which ended the wait with a TimeoutError and closed the researcher's websocket."""

    async def scenario():
        jobs = store(redis_url)
        session = await jobs.open_session()
        assert await jobs.next_frames(session, 5.0) == []

    run(scenario())


def test_a_jobs_latest_status_is_the_submitters_only(redis_url):
    async def scenario():
        jobs = store(redis_url)
        await jobs.register_job("j", "owner@example.org", "", '{"status": "QUEUED"}')
        await jobs.publish("j", "", '{"status": "COMPLETED"}')
        await jobs.publish("j", "", '{"status": "LOG"}', keep=False)
        assert await jobs.latest("j", "owner@example.org") == '{"status": "COMPLETED"}'
        assert await jobs.latest("j", "someone@example.org") is None
        assert await jobs.latest("j", None) is None
        # a status for a job never registered is not kept
        await jobs.publish("ghost", "", '{"status": "COMPLETED"}')
        assert await jobs.latest("ghost", None) is None

    run(scenario())


def test_a_result_is_downloaded_once_and_not_after_it_expired(redis_url):
    async def scenario():
        jobs = store(redis_url, result_ttl_seconds=1)
        token = await jobs.put_result(b"result bytes")
        assert await jobs.take_result(token) == b"result bytes"
        assert await jobs.take_result(token) is None
        late = await jobs.put_result(b"late")
        await asyncio.sleep(2.2)
        assert await jobs.take_result(late) is None

    run(scenario())


def test_statuses_and_sessions_expire_by_the_owners_ttl(redis_url):
    async def scenario():
        jobs = store(redis_url, job_ttl_seconds=1)
        session = await jobs.open_session()
        await jobs.register_job("j", None, session, '{"status": "QUEUED"}')
        assert await jobs.latest("j", None) is not None
        await asyncio.sleep(2.2)
        assert await jobs.latest("j", None) is None
        assert await jobs.next_frames(session, 1) is None

    run(scenario())


def test_a_job_whose_lease_ran_out_is_taken_over_by_one_replica_only(redis_url):
    async def scenario():
        first = store(redis_url, lease_seconds=2)
        second = JobStore(first.settings)
        third = JobStore(first.settings)
        await first.hold("j", "replica-a", {"envelope": {"model_key": "k"}, "attempts": 1}, b"pay")
        # renewed: nobody takes it
        await asyncio.sleep(1)
        await first.renew(["j"])
        assert await second.take_over("replica-b") == []
        # replica-a stops renewing: exactly one of two others takes it, with what it needs
        await asyncio.sleep(2.5)
        taken = await asyncio.gather(second.take_over("replica-b"), third.take_over("replica-c"))
        winners = [t for t in taken if t]
        assert len(winners) == 1
        job_id, request, payload, previous = winners[0][0]
        assert (job_id, request["envelope"], payload, previous) == (
            "j", {"model_key": "k"}, b"pay", "replica-a")
        # released once it ended: nothing left to take over
        await second.release("j")
        await asyncio.sleep(2.5)
        assert await third.take_over("replica-c") == []

    run(scenario())


def test_the_password_is_required(redis_url):
    async def scenario():
        jobs = JobStore(StoreSettings(url=redis_url["url"]))
        with pytest.raises(Exception, match="(?i)auth"):
            await jobs.ping()

    run(scenario())


# --- the gateway with the store, on a real Ray Serve, with nnsight's own client -------------


@pytest.fixture(scope="module")
def gateway(serve_url, tiny_model, redis_url, tmp_path_factory):
    from ray import serve

    from ndif_serve.app import build, build_gateway

    keys_file = tmp_path_factory.mktemp("keys") / "keys.yaml"
    keys_file.write_text(
        f"keys:\n- {{key: {API_KEY}, name: store@example.org}}\n"
        f"- {{key: {OTHER_KEY}, name: other@example.org}}\n"
    )
    args = {
        "keys_file": str(keys_file),
        "catalog_refresh_seconds": 1,
        "max_inline_result_bytes": 1024,  # results of these traces are downloaded
        "store": {
            "url": redis_url["url"],
            "password_file": redis_url["password_file"],
            "prefix": "gw" + uuid.uuid4().hex[:6],
            "lease_seconds": 3,
        },
    }
    serve.run(
        build({"model_key": key_of(tiny_model), "repo_id": tiny_model, "dtype": "float32"}),
        name="stored-model",
        route_prefix="/models/stored",
    )
    serve.run(build_gateway(args), name="ndif-gateway", route_prefix="/")
    _wait_until_served(serve_url, key_of(tiny_model))
    yield {"url": serve_url, "args": args}
    serve.delete("ndif-gateway")
    serve.delete("stored-model")


def submit(url, tiny_model, seconds: float = 0.0, api_key=API_KEY):
    """A non-blocking job (its block spins for ``seconds`` on the replica first)."""
    from nnsight.intervention.backends.remote import RemoteBackend

    model = client_model(tiny_model)
    remote = RemoteBackend(
        model_key=key_of(tiny_model), host=url, api_key=api_key, blocking=False,
        env=model._remoteable_get_env(),
    )
    with model.trace("Stored", backend=remote):
        import time as clock

        end = clock.monotonic() + seconds
        while clock.monotonic() < end:
            pass
        out = model.transformer.h[0].output.save()  # noqa: F841
    return remote


def poll(url, job_id, api_key=API_KEY) -> dict:
    """The job's latest status; {} while no gateway replica answers."""
    try:
        answer = httpx.get(f"{url}/response/{job_id}", headers={"ndif-api-key": api_key}, timeout=10)
    except httpx.HTTPError:
        return {}
    return answer.json() if answer.status_code == 200 else {}


def wait_for(url, job_id, statuses, timeout=180, seen_statuses=None) -> dict:
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = poll(url, job_id)
        if seen_statuses is not None and seen.get("status"):
            seen_statuses.append((seen["status"], seen.get("description", "")))
        if seen.get("status") in statuses:
            return seen
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} did not reach {statuses}: last {seen}")


def fetch(remote):
    """The result as nnsight's client reads it (a non-blocking backend's poll)."""
    value = remote.poll()
    assert value is not None, f"no result (last status {remote.status})"
    return value["out"]


def expected(tiny_model):
    local = local_model(tiny_model)
    with local.trace("Stored"):
        hidden = local.transformer.h[0].output.save()
    return hidden[0] if isinstance(hidden, tuple) else hidden


def restart_gateway(gateway):
    """Every gateway replica stopped and started again (an upgrade, a node drained)."""
    from ray import serve

    from ndif_serve.app import build_gateway

    serve.delete("ndif-gateway")
    serve.run(build_gateway(gateway["args"]), name="ndif-gateway", route_prefix="/")


def test_a_finished_job_is_polled_and_downloaded_after_every_gateway_replica_restarted(
    gateway, tiny_model
):
    remote = submit(gateway["url"], tiny_model)
    job_id = remote.job_id
    wait_for(gateway["url"], job_id, {"COMPLETED"})
    restart_gateway(gateway)
    _wait_until_served(gateway["url"], key_of(tiny_model))
    # another key sees nothing of it
    assert httpx.get(f"{gateway['url']}/response/{job_id}",
                     headers={"ndif-api-key": OTHER_KEY}, timeout=10).status_code == 404
    hidden = fetch(remote)
    hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    assert torch.equal(hidden, expected(tiny_model))


def test_a_running_job_survives_the_death_of_its_gateway_replica(gateway, tiny_model):
    """The gateway replica that runs a job is killed: another takes the job over when its lease
    runs out, runs it again, and the caller polls its result."""
    import ray

    remote = submit(gateway["url"], tiny_model, seconds=4)
    job_id = remote.job_id
    wait_for(gateway["url"], job_id, {"RUNNING"})
    killed = 0
    for actor in ray.util.list_named_actors(all_namespaces=True):
        if actor["namespace"] == "serve" and "ndif-gateway" in actor["name"] and (
            "Gateway" in actor["name"]
        ):
            ray.kill(ray.get_actor(actor["name"], namespace="serve"), no_restart=True)
            killed += 1
    # Every gateway replica died while the job's block still spun (4 s): the run that started
    # could not be answered by anyone; only a replica that took the job over can complete it.
    assert killed >= 1
    done = wait_for(gateway["url"], job_id, {"COMPLETED", "ERROR"})
    assert done["status"] == "COMPLETED", done
    hidden = fetch(remote)
    hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    assert torch.equal(hidden, expected(tiny_model))


def test_a_gateway_replica_that_stops_hands_its_running_job_over_without_an_error(
    gateway, tiny_model
):
    """An upgrade or a scale-down: the replica's graceful stop hands the job over at once (no
    lease to wait out), and its caller never sees an ERROR for it."""
    remote = submit(gateway["url"], tiny_model, seconds=4)
    job_id = remote.job_id
    wait_for(gateway["url"], job_id, {"RUNNING"})
    restart_gateway(gateway)
    seen: list = []
    done = wait_for(gateway["url"], job_id, {"COMPLETED", "ERROR"}, seen_statuses=seen)
    assert done["status"] == "COMPLETED", done
    assert "ERROR" not in [status for status, _ in seen], seen
    hidden = fetch(remote)
    hidden = hidden[0] if isinstance(hidden, tuple) else hidden
    assert torch.equal(hidden, expected(tiny_model))
