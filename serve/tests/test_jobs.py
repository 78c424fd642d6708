"""The job broker: frames reach the open session that subscribed, the latest status is kept for
polls by the key that submitted, results download once and expire."""

import asyncio
import time

import pytest

from ndif_serve.jobs import MAX_FRAMES_PER_SESSION, JobBroker, LastFrames


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


@pytest.mark.parametrize("ttl", [0.05])
def test_jobs_and_sessions_nobody_reads_expire(ttl):
    async def scenario():
        broker = JobBroker(job_ttl_seconds=ttl)
        read = await broker.open_session()
        abandoned = await broker.open_session()
        await broker.register_job("old", None)
        await broker.publish("old", "", "QUEUED")
        for _ in range(4):  # a websocket open longer than the TTL keeps reading its session
            time.sleep(ttl / 2)
            assert await broker.next_frames(read, 0) == []
        await broker.register_job("new", None)
        assert await broker.latest("old", None) is None
        assert await broker.counts() == {"sessions": 1, "jobs": 1, "results": 0}
        assert await broker.next_frames(read, 0) == []
        assert await broker.next_frames(abandoned, 0) is None

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


def test_a_broker_answers_a_taken_frame_with_its_incarnation():
    async def scenario():
        first, replacement = JobBroker(), JobBroker()
        session = await first.open_session()
        taken = await first.publish("j", session, "COMPLETED")
        assert taken == await first.alive("gateway-a")
        assert taken != await replacement.alive("gateway-a")
        assert await replacement.publish("j", session, "COMPLETED") is None  # not reopened

    run(scenario())


def test_last_frames_are_sent_again_only_when_the_broker_that_took_them_was_replaced():
    frames = LastFrames(settle_seconds=5)
    frames.sent("delivered", "s1", "COMPLETED", None, True, "broker-a", now=0)
    frames.sent("recent", "s2", None, b"pickled", False, "broker-a", now=4)
    assert frames.lost("broker-a", now=4.5) == []
    assert len(frames) == 2
    assert frames.lost("broker-a", now=5) == []  # the first was held long enough: passed on
    assert len(frames) == 1
    frames.sent("later", "s3", "ERROR", None, True, "broker-b", now=6)
    lost = frames.lost("broker-b", now=6.1)
    assert [(job, sent.session_id, sent.binary, sent.keep) for job, sent in lost] == [
        ("recent", "s2", b"pickled", False)
    ]
    assert len(frames) == 1
    assert frames.lost("broker-b", now=11.1) == []
    assert len(frames) == 0


def test_last_frames_keep_a_bounded_number_of_bytes_dropping_the_oldest_first():
    frames = LastFrames(settle_seconds=5, max_bytes=100)
    frames.sent("old", "s1", None, b"x" * 60, False, "broker-a", now=0)
    frames.sent("new", "s2", None, b"y" * 60, False, "broker-a", now=1)
    assert len(frames) == 1
    frames.sent("huge", "s3", None, b"z" * 500, False, "broker-a", now=2)  # the newest is kept
    assert [job for job, _ in frames.lost("broker-b", now=2)] == ["huge"]


def test_the_jobs_of_a_gateway_replica_that_stopped_saying_it_is_alive_end_with_its_sentence():
    async def scenario():
        broker = JobBroker(runner_lapse_seconds=0.2)
        session = await broker.open_session()
        lost = '{"status": "ERROR", "description": "The replica that ran your job went."}'
        await broker.register_job("on-a", "ada", session, '{"status": "RECEIVED"}', "a", lost)
        await broker.register_job("on-b", "ada", session, '{"status": "RECEIVED"}', "b", lost)
        await broker.register_job("ended-on-a", "ada", "", None, "a", lost)
        await broker.publish("ended-on-a", "", '{"status": "COMPLETED"}', final=True)
        # A job whose first status ended it is registered without a status for a lost runner.
        await broker.register_job("refused-on-a", "ada", "", '{"status": "ERROR"}', "a", None)
        assert [f.text for f in await broker.next_frames(session, 0)] == [
            '{"status": "RECEIVED"}',
            '{"status": "RECEIVED"}',
        ]
        for _ in range(4):  # b keeps saying it is alive; a has stopped
            time.sleep(0.1)
            await broker.alive("b")
        assert [f.text for f in await broker.next_frames(session, 0)] == [lost]
        assert await broker.latest("on-a", "ada") == lost
        assert await broker.latest("on-b", "ada") == '{"status": "RECEIVED"}'
        assert await broker.latest("ended-on-a", "ada") == '{"status": "COMPLETED"}'
        assert await broker.latest("refused-on-a", "ada") == '{"status": "ERROR"}'
        await broker.alive("b")  # said once only
        assert await broker.next_frames(session, 0) == []

    run(scenario())


def test_a_new_broker_learns_running_jobs_from_their_runners_and_waiting_websockets():
    """After a restart: a runner that is alive adopts its jobs; a job that a websocket still
    waits for and that nobody adopts ended with a runner killed while no broker answered."""

    async def scenario():
        broker = JobBroker(runner_lapse_seconds=0.2)
        await broker.reopen_session("s")
        lost = '{"status": "ERROR", "description": "gone"}'
        await broker.expect("s", [("adopted", lost), ("orphan", lost)])
        await broker.adopt([("adopted", "ada", "s", lost)], "runner-a")
        await broker.expect("s", [("adopted", lost)])  # known already: left as adopted
        for _ in range(4):
            time.sleep(0.1)
            assert await broker.alive("runner-a") == broker.incarnation
        frames = await broker.next_frames("s", 0)
        assert [(f.job, f.text, f.final) for f in frames] == [("orphan", lost, True)]
        assert await broker.publish("adopted", "s", '{"status": "COMPLETED"}', final=True)
        assert await broker.latest("adopted", "ada") == '{"status": "COMPLETED"}'
        await broker.alive("runner-a")
        assert [f.job for f in await broker.next_frames("s", 0)] == ["adopted"]

    run(scenario())
