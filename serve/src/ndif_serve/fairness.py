"""Fair share between keys on one gateway: each key may have so many jobs running and so many
waiting, and a model's free replicas are given to the waiting keys in turn (``weight`` jobs per
turn), so one key's hundred queued jobs delay another key's single job by about one job. No Ray,
no HTTP, no asyncio: the gateway calls it from its event loop."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Optional

DEFAULT_TAG = "default"


@dataclass(frozen=True)
class Limits:
    """Per key: jobs running at once (None: as many as the replicas take), jobs waiting, and
    how many jobs the key gets per turn when keys take turns."""

    running: Optional[int] = None
    queued: int = 32
    weight: int = 1

    @classmethod
    def parse(cls, value: Any, where: str) -> "Limits":
        if not isinstance(value, dict):
            raise ValueError(f"{where} must be a mapping of running, queued and weight")
        unknown = set(value) - {"running", "queued", "weight"}
        if unknown:
            raise ValueError(f"{where} has unknown fields {sorted(unknown)}: use running, queued, weight")
        for name in ("running", "queued", "weight"):
            number = value.get(name)
            if number is not None and (not isinstance(number, int) or isinstance(number, bool)
                                       or number < (0 if name == "queued" else 1)):
                raise ValueError(f"{where}.{name} must be a whole number of at least"
                                 f" {0 if name == 'queued' else 1}")
        default = cls()
        return cls(
            running=value.get("running", default.running),
            queued=value.get("queued", default.queued),
            weight=value.get("weight", default.weight),
        )


def limits_for(tags: tuple[str, ...], by_tag: dict[str, Limits]) -> Limits:
    """A key's limits: the most generous of its tags' (each field on its own), else the file's
    ``default``, else the built-in defaults."""
    chosen = [by_tag[t] for t in tags if t in by_tag]
    if not chosen:
        return by_tag.get(DEFAULT_TAG, Limits())
    running = [c.running for c in chosen]
    return Limits(
        running=None if None in running else max(running),
        queued=max(c.queued for c in chosen),
        weight=max(c.weight for c in chosen),
    )


class Refused(Exception):
    """A job over a limit: ``limit`` is ``queued`` (its key's) or ``model`` (the model's queue);
    the message is the sentence the user gets."""

    def __init__(self, limit: str, message: str):
        super().__init__(message)
        self.limit = limit


@dataclass
class _Key:
    limits: Limits
    running: int = 0
    waiting: int = 0


@dataclass
class _Model:
    # Keys with waiting jobs in the order they take turns; the first is the one whose turn it is.
    turn: deque = field(default_factory=deque)
    waiting: dict[str, deque] = field(default_factory=dict)
    credit: int = 0
    running: int = 0


class FairQueue:
    def __init__(self):
        self._keys: dict[str, _Key] = {}
        self._models: dict[str, _Model] = {}
        self._jobs: dict[str, tuple[str, str, bool]] = {}  # job -> (model, key, running)

    def submit(
        self, job: str, model: str, key: str, limits: Limits, model_limit: Optional[int] = None
    ) -> None:
        """Queues a job, or raises Refused when its key already waits for ``limits.queued`` jobs
        or the model for ``model_limit``."""
        waiting = self._keys[key].waiting if key in self._keys else 0
        if waiting >= limits.queued:
            raise Refused(
                "queued",
                f"Your key already has {waiting} jobs waiting on this gateway, its limit"
                f" ({limits.queued}); wait for one of them to start, then send this job again.",
            )
        if model_limit is not None and self.waiting(model) >= model_limit:
            raise Refused("model", f"{self.waiting(model)} jobs are waiting for this model")
        state = self._keys.setdefault(key, _Key(limits))
        state.limits = limits
        state.waiting += 1
        queue = self._models.setdefault(model, _Model())
        if key not in queue.waiting:
            queue.waiting[key] = deque()
            queue.turn.append(key)
        queue.waiting[key].append(job)
        self._jobs[job] = (model, key, False)

    def start(self, model: str, slots: int) -> list[str]:
        """The jobs that may start now on ``model``, whose replicas take ``slots`` jobs at once,
        taken key by key in turn; each is counted as running until :meth:`finish`."""
        queue = self._models.get(model)
        started: list[str] = []
        if queue is None:
            return started
        while queue.running < slots and queue.turn:
            job = self._next(queue)
            if job is None:
                break
            started.append(job)
        return started

    def _next(self, queue: _Model) -> Optional[str]:
        # One pass over the keys at most: keys at their running limit are passed over.
        for _ in range(len(queue.turn)):
            key = queue.turn[0]
            state = self._keys[key]
            if state.limits.running is not None and state.running >= state.limits.running:
                queue.turn.rotate(-1)
                queue.credit = 0
                continue
            if queue.credit <= 0:
                queue.credit = state.limits.weight
            job = queue.waiting[key].popleft()
            queue.credit -= 1
            if not queue.waiting[key]:
                del queue.waiting[key]
                queue.turn.popleft()
                queue.credit = 0
            elif queue.credit <= 0:
                queue.turn.rotate(-1)
            state.waiting -= 1
            state.running += 1
            queue.running += 1
            model, _, _ = self._jobs[job]
            self._jobs[job] = (model, key, True)
            return job
        return None

    def finish(self, job: str) -> Optional[str]:
        """Forgets a job that ended (or was cancelled before it started); returns its model, whose
        freed slot the caller offers again with :meth:`start`."""
        entry = self._jobs.pop(job, None)
        if entry is None:
            return None
        model, key, running = entry
        state = self._keys[key]
        queue = self._models[model]
        if running:
            state.running -= 1
            queue.running -= 1
        else:
            state.waiting -= 1
            waiting = queue.waiting.get(key)
            if waiting is not None:
                waiting.remove(job)
                if not waiting:
                    del queue.waiting[key]
                    if queue.turn and queue.turn[0] == key:
                        queue.credit = 0
                    queue.turn.remove(key)
        if not queue.running and not queue.turn:
            del self._models[model]
        if not state.running and not state.waiting:
            del self._keys[key]
        return model

    def waiting(self, model: str) -> int:
        queue = self._models.get(model)
        return sum(len(jobs) for jobs in queue.waiting.values()) if queue else 0

    def waiting_for(self, key: str) -> int:
        state = self._keys.get(key)
        return state.waiting if state else 0

    def running_for(self, key: str) -> int:
        state = self._keys.get(key)
        return state.running if state else 0
