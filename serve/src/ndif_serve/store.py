"""Jobs in a store that outlives every gateway replica: a Redis (or Valkey) server the cluster's
owner names. The same calls as the in-memory JobBroker (sessions' frames, each job's owner and
latest status, results downloaded once), each kept under the owner's TTLs, plus what makes a job
outlive the replica that runs it: its request, and a lease the running replica renews. No Ray and
no HTTP in it."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .jobs import MAX_FRAMES_PER_SESSION, Frame

# Redis refuses a string above 512 MB; a result above what the owner allows is refused before.
REDIS_MAX_VALUE_BYTES = 512 * 1024 * 1024
# The longest a call blocks in Redis waiting for frames, and how long to wait for a connection.
MAX_BLOCK_SECONDS = 10
CONNECT_TIMEOUT_SECONDS = 5
# What ``publish`` answers when a session took a frame: the store does not lose what it took.
STORE_INCARNATION = "store"
_TEXT, _BINARY = b"t", b"b"


class StoreSettings(BaseModel):
    """What the operator puts in the gateway's ``store`` argument."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^rediss?://", description="redis://host:port/db")
    # A file holding the password (the mounted Secret), never the password itself.
    password_file: Optional[str] = None
    prefix: str = Field(default="ndif", min_length=1, max_length=300)
    job_ttl_seconds: float = Field(default=3600, gt=0)
    # A job whose replica stopped renewing its lease this long ago is taken over by another.
    lease_seconds: float = Field(default=15, ge=2, le=600)


class JobStore:
    """Every method is a coroutine on the caller's event loop, as the broker's are."""

    def __init__(
        self,
        settings: StoreSettings,
        result_ttl_seconds: float = 600.0,
        client: Any = None,
    ):
        self.settings = settings
        self.job_ttl = int(settings.job_ttl_seconds)
        self.result_ttl = max(1, int(result_ttl_seconds))
        if client is None:
            import redis.asyncio as redis

            password = None
            if settings.password_file:
                with open(settings.password_file) as f:
                    password = f.read().strip()
            # A read waits longer than the longest BLPOP (next_frames): redis-py's default of
            # 5 s would end a 5 s BLPOP with a TimeoutError instead of an empty answer.
            client = redis.from_url(
                settings.url,
                password=password,
                socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
                socket_timeout=MAX_BLOCK_SECONDS + CONNECT_TIMEOUT_SECONDS,
            )
        self.redis = client
        self._p = settings.prefix

    def _key(self, kind: str, name: str) -> str:
        return f"{self._p}:{kind}:{name}"

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # --- the broker's calls ---------------------------------------------------------------

    async def open_session(self) -> str:
        session_id = secrets.token_hex(16)
        await self.redis.set(self._key("session", session_id), b"1", ex=self.job_ttl)
        return session_id

    async def reopen_session(self, session_id: str) -> None:
        await self.redis.set(self._key("session", session_id), b"1", ex=self.job_ttl, nx=True)

    async def close_session(self, session_id: str) -> None:
        await self.redis.delete(self._key("session", session_id), self._key("frames", session_id))

    async def next_frames(self, session_id: str, timeout: float) -> Optional[list[Frame]]:
        if not await self.redis.exists(self._key("session", session_id)):
            return None
        frames_key = self._key("frames", session_id)
        block = min(MAX_BLOCK_SECONDS, max(1, int(timeout)))
        first = await self.redis.blpop([frames_key], timeout=block)
        if not await self.redis.exists(self._key("session", session_id)):
            return None
        if first is None:
            return []
        rest = await self.redis.lpop(frames_key, MAX_FRAMES_PER_SESSION) or []
        return [_decode(raw) for raw in [first[1], *rest]]

    async def register_job(
        self,
        job_id: str,
        owner: Optional[str],
        session_id: str = "",
        first: Optional[str] = None,
        runner: str = "",
        if_lost: Optional[str] = None,
    ) -> bool:
        # A lost runner's jobs are taken over by another replica when their leases run out:
        # ``runner`` and ``if_lost`` are the embedded broker's means.
        if session_id and not await self.redis.exists(self._key("session", session_id)):
            return False
        key = self._key("job", job_id)
        await self.redis.hset(key, mapping={"owner": owner or "", "session": session_id})
        await self.redis.expire(key, self.job_ttl)
        if first is not None:
            await self.publish(job_id, session_id, first)
        return True

    async def publish(
        self,
        job_id: str,
        session_id: str,
        text: Optional[str],
        binary: Optional[bytes] = None,
        keep: bool = True,
        final: bool = False,
    ) -> Optional[str]:
        if keep and text is not None:
            key = self._key("job", job_id)
            # Only a job that is registered (and not expired) keeps a status.
            if await self.redis.exists(key):
                await self.redis.hset(key, "latest", text)
        if not session_id or not await self.redis.exists(self._key("session", session_id)):
            return None
        frames_key = self._key("frames", session_id)
        raw = _BINARY + binary if binary is not None else _TEXT + (text or "").encode()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(frames_key, raw)
            pipe.ltrim(frames_key, -MAX_FRAMES_PER_SESSION, -1)
            pipe.expire(frames_key, self.job_ttl)
            await pipe.execute()
        return STORE_INCARNATION

    async def latest(self, job_id: str, owner: Optional[str]) -> Optional[str]:
        stored_owner, latest = await self.redis.hmget(self._key("job", job_id), "owner", "latest")
        if stored_owner is None or latest is None or stored_owner.decode() != (owner or ""):
            return None
        return latest.decode()

    async def put_result(self, blob: bytes) -> str:
        if len(blob) > REDIS_MAX_VALUE_BYTES:
            raise ValueError(
                f"a result of {len(blob)} bytes is larger than the store keeps"
                f" ({REDIS_MAX_VALUE_BYTES} bytes)"
            )
        token = secrets.token_urlsafe(32)
        await self.redis.set(self._key("result", token), blob, ex=self.result_ttl)
        return token

    async def take_result(self, token: str) -> Optional[bytes]:
        return await self.redis.getdel(self._key("result", token))

    async def uptime(self) -> float:
        """The store outlives every gateway replica: its sessions are never missing for a restart."""
        return float("inf")

    async def counts(self) -> dict[str, int]:
        counts = {}
        for kind, name in (("session", "sessions"), ("job", "jobs"), ("result", "results")):
            n = 0
            async for _ in self.redis.scan_iter(match=self._key(kind, "*"), count=1000):
                n += 1
            counts[name] = n
        return counts

    # --- jobs that outlive their replica --------------------------------------------------

    async def hold(self, job_id: str, holder: str, request: dict[str, Any], payload: bytes) -> None:
        """Keeps what is needed to run the job again (its envelope, caller and payload) and
        leases it to ``holder``, the replica that runs it."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key("request", job_id), json.dumps(request), ex=self.job_ttl)
            pipe.set(self._key("payload", job_id), payload, ex=self.job_ttl)
            pipe.zadd(self._key("leases", "all"), {job_id: time.time() + self.settings.lease_seconds})
            pipe.hset(self._key("holders", "all"), job_id, holder)
            await pipe.execute()

    async def renew(self, job_ids: list[str]) -> None:
        if job_ids:
            until = time.time() + self.settings.lease_seconds
            await self.redis.zadd(self._key("leases", "all"), {j: until for j in job_ids}, xx=True)

    async def hand_over(self, job_ids: list[str]) -> None:
        """Ends the leases at once: the replica stops, the others take its jobs at their next
        look instead of after the lease."""
        if job_ids:
            await self.redis.zadd(self._key("leases", "all"), {j: 0 for j in job_ids}, xx=True)

    async def release(self, job_id: str) -> None:
        """The job ended (with its answer recorded): nothing of it needs to outlive its replica."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self._key("leases", "all"), job_id)
            pipe.hdel(self._key("holders", "all"), job_id)
            pipe.delete(self._key("request", job_id), self._key("payload", job_id))
            await pipe.execute()

    async def take_over(self, holder: str, limit: int = 16) -> list[tuple[str, dict, bytes, str]]:
        """Jobs whose lease ran out (their replica stopped), now leased to ``holder``: each with
        its request, payload and the replica that held it. A job is taken over by one replica
        only: the lease is moved with a compare-and-set."""
        leases = self._key("leases", "all")
        expired = await self.redis.zrangebyscore(leases, "-inf", time.time(), start=0, num=limit)
        taken = []
        for raw in expired:
            job_id = raw.decode()
            claimed = await self.redis.eval(
                _CLAIM, 1, leases, job_id, time.time(), time.time() + self.settings.lease_seconds
            )
            if not claimed:
                continue
            previous = await self.redis.hget(self._key("holders", "all"), job_id)
            await self.redis.hset(self._key("holders", "all"), job_id, holder)
            request = await self.redis.get(self._key("request", job_id))
            payload = await self.redis.get(self._key("payload", job_id))
            if request is None or payload is None:  # expired meanwhile
                await self.release(job_id)
                continue
            taken.append((job_id, json.loads(request), payload,
                          previous.decode() if previous else ""))
        return taken


# Moves a lease that ran out (score at most now) to a new expiry, atomically.
_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


def _decode(raw: bytes) -> Frame:
    if raw[:1] == _BINARY:
        return Frame(binary=raw[1:])
    return Frame(text=raw[1:].decode())
