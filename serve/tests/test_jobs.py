"""The job broker: frames reach the open session that subscribed, the latest status is kept for
polls by the key that submitted, results download once and expire."""

import asyncio
import time

import pytest

from ndif_serve.jobs import MAX_FRAMES_PER_SESSION, JobBroker


def run(coroutine):
    return asyncio.run(coroutine)


def test_frames_reach_their_session_in_order():
    async def scenario():
        broker = JobBroker()
        session = await broker.open_session()
        other = await broker.open_session()
        assert not await broker.register_job("j0", "ada", "no-such-session")
        assert await broker.register_job("j1", "ada", session)
        waiting = asyncio.ensure_future(broker.next_frames(session, 5))
        await asyncio.sleep(0)
        assert await broker.publish("j1", session, '{"status": "RUNNING"}')
        assert await broker.publish("j1", session, None, b"pickled", keep=False)
        first = await waiting
        assert [f.text for f in first] == ['{"status": "RUNNING"}', None]
        assert first[1].binary == b"pickled"
        assert await broker.next_frames(other, 0.01) == []
        await broker.close_session(session)
        assert await broker.next_frames(session, 0.01) is None
        assert not await broker.publish("j1", session, "late")

    run(scenario())


def test_the_latest_status_is_only_for_the_key_that_submitted():
    async def scenario():
        broker = JobBroker()
        await broker.register_job("j", "ada")
        assert await broker.latest("j", "ada") is None  # no status yet: the client polls again
        await broker.publish("j", "", "QUEUED")
        await broker.publish("j", "", "LOG line", keep=False)
        assert await broker.latest("j", "ada") == "QUEUED"
        assert await broker.latest("j", "bob") is None
        assert await broker.latest("unknown", "ada") is None

    run(scenario())


def test_a_result_downloads_once_and_expires():
    async def scenario():
        broker = JobBroker(result_ttl_seconds=0.05)
        token = await broker.put_result(b"blob")
        assert len(token) >= 40
        assert await broker.take_result(token) == b"blob"
        assert await broker.take_result(token) is None
        stale = await broker.put_result(b"old")
        time.sleep(0.06)
        assert await broker.take_result(stale) is None

    run(scenario())


def test_a_session_that_is_not_read_keeps_a_bounded_backlog():
    async def scenario():
        broker = JobBroker()
        session = await broker.open_session()
        await broker.register_job("j", None)
        for i in range(MAX_FRAMES_PER_SESSION + 5):
            await broker.publish("j", session, str(i), keep=False)
        frames = await broker.next_frames(session, 0)
        assert len(frames) == MAX_FRAMES_PER_SESSION
        assert frames[-1].text == str(MAX_FRAMES_PER_SESSION + 4)

    run(scenario())


@pytest.mark.parametrize("ttl", [0.01])
def test_jobs_expire(ttl):
    async def scenario():
        broker = JobBroker(job_ttl_seconds=ttl)
        await broker.register_job("old", None)
        await broker.publish("old", "", "QUEUED")
        time.sleep(ttl * 2)
        await broker.register_job("new", None)
        assert await broker.latest("old", None) is None
        assert (await broker.counts())["jobs"] == 1

    run(scenario())


def test_a_broker_says_how_young_it_is_and_a_reopened_session_gets_the_frames_sent_to_it():
    """After a restart the broker is young: a gateway replica then waits longer for a session
    that another replica has yet to open again, and frames published once it is open arrive."""

    async def scenario():
        broker = JobBroker()
        assert 0 <= await broker.uptime() < 5
        assert not await broker.register_job("j1", None, "s-from-before")  # not reopened yet
        await broker.reopen_session("s-from-before")
        assert await broker.register_job("j1", None, "s-from-before", '{"status": "RECEIVED"}')
        assert await broker.publish("j1", "s-from-before", '{"status": "COMPLETED"}')
        frames = await broker.next_frames("s-from-before", 1)
        assert [f.text for f in frames] == ['{"status": "RECEIVED"}', '{"status": "COMPLETED"}']

    run(scenario())
