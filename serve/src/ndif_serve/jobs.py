"""Where a job's statuses and results wait for the client, shared by every gateway replica: the
frames of each open websocket session, the latest status of each job (for ``GET /response``) and
the results that are downloaded rather than sent inline. No Ray and no HTTP in it."""

from __future__ import annotations

import asyncio
import collections
import secrets
import time
from dataclasses import dataclass, field
from typing import Optional

# Frames kept for a session whose websocket has not read them; a client that stops reading
# cannot make the broker grow without bound.
MAX_FRAMES_PER_SESSION = 10_000
# A gateway replica that has not said it is alive for this long is gone (killed, its node lost):
# the jobs it was running end with their sentence. Replicas say so every few seconds.
RUNNER_LAPSE_SECONDS = 15.0


@dataclass
class Frame:
    """One websocket message: JSON text, or a pickled ``COMPLETED`` as binary."""

    text: Optional[str] = None
    binary: Optional[bytes] = None
    # The job it is about, and whether the job ends with it (the embedded broker says both).
    job: Optional[str] = None
    final: bool = False


@dataclass
class _Session:
    frames: collections.deque = field(default_factory=collections.deque)
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    read: float = field(default_factory=time.monotonic)


@dataclass
class _Job:
    owner: Optional[str]
    latest: Optional[str] = None
    expires: float = 0.0
    session: str = ""
    # The gateway replica running the job, and the status it ends with should that replica go.
    runner: str = ""
    if_lost: Optional[str] = None
    since: float = 0.0


class JobBroker:
    """Every method is a coroutine, so that Serve runs them all on the replica's one event loop
    (the sessions' asyncio events are not thread-safe)."""

    def __init__(
        self,
        job_ttl_seconds: float = 3600.0,
        result_ttl_seconds: float = 600.0,
        runner_lapse_seconds: float = RUNNER_LAPSE_SECONDS,
    ):
        self.job_ttl_seconds = job_ttl_seconds
        self.result_ttl_seconds = result_ttl_seconds
        self.runner_lapse_seconds = runner_lapse_seconds
        self._sessions: dict[str, _Session] = {}
        self._jobs: dict[str, _Job] = {}
        # Jobs not yet ended, by id, and when each gateway replica last said it was alive.
        self._running: dict[str, _Job] = {}
        self._alive: dict[str, float] = {}
        self._results: dict[str, tuple[bytes, float]] = {}
        self._started = time.monotonic()
        # Tells the frames this broker took from those a broker before it took and lost.
        self.incarnation = secrets.token_hex(8)

    async def open_session(self) -> str:
        session_id = secrets.token_hex(16)
        self._sessions[session_id] = _Session()
        return session_id

    async def reopen_session(self, session_id: str) -> None:
        """Opens a session again under its id: a websocket that outlived the broker's replica
        keeps its id in the broker that replaced it."""
        self._sessions.setdefault(session_id, _Session())

    async def close_session(self, session_id: str) -> None:
        self._close(session_id)

    def _close(self, session_id: str) -> None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.wakeup.set()

    async def next_frames(self, session_id: str, timeout: float) -> Optional[list[Frame]]:
        """The session's waiting frames, after waiting up to ``timeout`` for one; None once the
        session is closed."""
        session = self._sessions.get(session_id)
        if session is None:
            return None
        session.read = time.monotonic()
        if not session.frames:
            session.wakeup.clear()
            try:
                await asyncio.wait_for(session.wakeup.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        if self._sessions.get(session_id) is not session:
            return None
        frames = list(session.frames)
        session.frames.clear()
        return frames

    async def register_job(
        self,
        job_id: str,
        owner: Optional[str],
        session_id: str = "",
        first: Optional[str] = None,
        runner: str = "",
        if_lost: Optional[str] = None,
    ) -> bool:
        """Records a new job, with its first status when given (one call on the request's path);
        False (and nothing recorded) when it names a session that is not open, whose statuses
        would reach nobody. ``runner``: the gateway replica that runs it; ``if_lost``: the status
        it ends with (to its session and its polls) if that replica goes before it ends."""
        if session_id and session_id not in self._sessions:
            return False
        self._expire()
        self._track(job_id, owner, session_id, runner, if_lost)
        if first is not None:
            await self.publish(job_id, session_id, first)
        return True

    async def alive(self, runner: str) -> str:
        """A gateway replica says it is alive (every few seconds); the jobs of replicas that
        stopped saying so end with their sentence. Answers this broker's incarnation: a replica
        that sees a new one tells it the jobs it runs (``adopt``)."""
        now = time.monotonic()
        self._alive[runner] = now
        await self._end_jobs_of_lost_runners(now)
        return self.incarnation

    async def adopt(
        self, jobs: list[tuple[str, Optional[str], str, Optional[str]]], runner: str
    ) -> None:
        """The jobs (id, owner, session, status if lost) a gateway replica runs, told to a broker
        that replaced the one they were registered in."""
        for job_id, owner, session_id, if_lost in jobs:
            known = self._jobs.get(job_id)
            self._track(job_id, owner, session_id, runner, if_lost, known)

    async def expect(self, session_id: str, jobs: list[tuple[str, str]]) -> None:
        """The jobs (id, status if lost) a websocket still waits for, told to a broker that
        replaced the one they were registered in: unless the replica running each one adopts it
        soon, it ended with that replica (killed while no broker answered)."""
        for job_id, if_lost in jobs:
            if job_id not in self._jobs:
                self._track(job_id, None, session_id, "", if_lost)

    def _track(
        self,
        job_id: str,
        owner: Optional[str],
        session_id: str,
        runner: str,
        if_lost: Optional[str],
        known: Optional[_Job] = None,
    ) -> None:
        """Records a job (keeping what a known one has: its latest status, its expiry) and, when
        it has a status for a lost runner, watches it until it ends."""
        now = time.monotonic()
        job = known or _Job(owner, expires=now + self.job_ttl_seconds)
        job.owner, job.session, job.runner, job.if_lost, job.since = (
            owner, session_id, runner, if_lost, now
        )
        self._jobs[job_id] = job
        if if_lost is not None:
            self._running[job_id] = job

    async def _end_jobs_of_lost_runners(self, now: float) -> None:
        for job_id, job in list(self._running.items()):
            last = max(self._alive.get(job.runner, 0.0), job.since)
            if now - last > self.runner_lapse_seconds:
                await self.publish(job_id, job.session, job.if_lost, final=True)
        for runner in [r for r, at in self._alive.items() if now - at > 4 * self.runner_lapse_seconds]:
            del self._alive[runner]

    async def publish(
        self,
        job_id: str,
        session_id: str,
        text: Optional[str],
        binary: Optional[bytes] = None,
        keep: bool = True,
        final: bool = False,
    ) -> Optional[str]:
        """Sends a frame to the job's session (if it has one and it is open) and, when ``keep``,
        records ``text`` as the job's latest status; ``final``: the job ends with it. Returns
        this broker's incarnation when a session took the frame, else None."""
        job = self._jobs.get(job_id)
        if keep and job is not None and text is not None:
            job.latest = text
        if final:
            self._running.pop(job_id, None)
        session = self._sessions.get(session_id) if session_id else None
        if session is None:
            return None
        if len(session.frames) >= MAX_FRAMES_PER_SESSION:
            session.frames.popleft()
        session.frames.append(Frame(text=text, binary=binary, job=job_id, final=final))
        session.wakeup.set()
        return self.incarnation

    async def latest(self, job_id: str, owner: Optional[str]) -> Optional[str]:
        """The job's latest status as JSON, or None when there is none yet, the job is unknown,
        or it belongs to another key."""
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            return None
        return job.latest

    async def put_result(self, blob: bytes) -> str:
        self._expire()
        token = secrets.token_urlsafe(32)
        self._results[token] = (blob, time.monotonic() + self.result_ttl_seconds)
        return token

    async def take_result(self, token: str) -> Optional[bytes]:
        """A stored result, once: the download link works one time, and not after it expired."""
        entry = self._results.pop(token, None)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    async def uptime(self) -> float:
        """Seconds since this broker started: a young one may not hold every open session yet."""
        return time.monotonic() - self._started

    async def counts(self) -> dict[str, int]:
        return {
            "sessions": len(self._sessions),
            "jobs": len(self._jobs),
            "results": len(self._results),
        }

    def _expire(self) -> None:
        now = time.monotonic()
        for job_id in [j for j, job in self._jobs.items() if job.expires < now]:
            del self._jobs[job_id]
            self._running.pop(job_id, None)
        for token in [t for t, (_, expires) in self._results.items() if expires < now]:
            del self._results[token]
        # A session nobody reads any more: its websocket's gateway replica died without closing it.
        stale = now - self.job_ttl_seconds
        for session_id in [s for s, session in self._sessions.items() if session.read < stale]:
            self._close(session_id)


@dataclass
class _Sent:
    session_id: str
    text: Optional[str]
    binary: Optional[bytes]
    keep: bool
    incarnation: str
    at: float


class LastFrames:
    """The last frame of each job that a gateway replica sent through the embedded broker to a
    websocket on another replica, kept until the broker has had time to pass it on. A broker that
    dies first loses what it held: those frames are sent again, to the broker that replaced it,
    so that a blocking client is not left waiting (a duplicate reaches a closed websocket, or one
    that has returned already)."""

    def __init__(self, settle_seconds: float = 5.0, max_bytes: int = 256 * 1024 * 1024):
        self.settle_seconds = settle_seconds
        # Inline results ride in these frames: the oldest (most surely passed on) go first.
        self.max_bytes = max_bytes
        self._sent: dict[str, _Sent] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._sent)

    def sent(
        self,
        job_id: str,
        session_id: str,
        text: Optional[str],
        binary: Optional[bytes],
        keep: bool,
        incarnation: str,
        now: float,
    ) -> None:
        self._forget(job_id)
        sent = _Sent(session_id, text, binary, keep, incarnation, now)
        self._sent[job_id] = sent
        self._bytes += _size(sent)
        while self._bytes > self.max_bytes and len(self._sent) > 1:
            self._forget(next(iter(self._sent)))

    def _forget(self, job_id: str) -> None:
        sent = self._sent.pop(job_id, None)
        if sent is not None:
            self._bytes -= _size(sent)

    def lost(self, incarnation: str, now: float) -> list[tuple[str, _Sent]]:
        """Given the living broker's incarnation: the frames a broker before it took (to be sent
        again), forgetting them and those the living broker has held for ``settle_seconds``."""
        lost = []
        for job_id, sent in list(self._sent.items()):
            if sent.incarnation != incarnation:
                lost.append((job_id, sent))
                self._forget(job_id)
            elif now - sent.at >= self.settle_seconds:
                self._forget(job_id)
        return lost


def _size(sent: _Sent) -> int:
    return len(sent.binary or b"") + len(sent.text or "")
