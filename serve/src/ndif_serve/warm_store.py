"""The warm tier on Ray: one detached actor per node keeps the weights of models that stopped
there in Ray's shared-memory object store, within the node's budget. It owns the objects, so they
outlive the replica that stopped; a replica that starts on any node maps its model's copy instead
of reading the files (on its own node without a copy, from another node over Ray's transfer)."""

from __future__ import annotations

import logging
import socket
import threading
import time
from typing import Any, Optional

import ray

from .warm import Entry, make_room, pack_files, packed_size, weight_files

logger = logging.getLogger("ndif_serve")

NAMESPACE = "ndif-warm"
_PREFIX = "warm-"


def store_name(node_id: str) -> str:
    return _PREFIX + node_id


@ray.remote(num_cpus=0, max_restarts=0, max_concurrency=8)
class WarmStore:
    """One node's warm copies: {key: (index, ObjectRef)}, dropped by priority, then least recent
    use, when a new one needs the room. Threaded: a copy being made (seconds for a large model)
    holds up neither a replica that asks for another copy nor the gateway's report."""

    def __init__(self, node_id: str, node_name: str, budget_bytes: int):
        self.node_id = node_id
        self.node_name = node_name
        # A copy beyond the node's object store would be spilled to disk and come back slower
        # than the model's own files: the budget is held within most of the store.
        self.capacity = _object_store_bytes(node_id)
        self.budget = self._within_capacity(budget_bytes)
        self._copies: dict[str, dict[str, Any]] = {}
        self._making: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def _within_capacity(self, budget_bytes: int) -> int:
        if self.capacity:
            limit = int(self.capacity * STORE_SHARE)
            if budget_bytes > limit:
                logger.warning(
                    "warm: the budget of %d bytes is held to %d, %d%% of this node's object store",
                    budget_bytes, limit, int(STORE_SHARE * 100),
                )
                return limit
        return budget_bytes

    def set_budget(self, budget_bytes: int) -> None:
        with self._lock:
            self.budget = self._within_capacity(budget_bytes)
            self._fit()

    def keep(self, key: str, repo_id: str, revision: Optional[str], dtype: str, priority: int,
             pool: Optional[str], deployment: Optional[str], wait: bool = False) -> str:
        """Keeps the model's weights from this node's files. A stopping replica does not wait
        (``wait=False``: the copy is made here after it answered); says what became of it."""
        with self._lock:
            copy = self._copies.get(key)
            if copy is not None and copy["dtype"] == dtype:
                copy.update(last_used=time.time(), priority=priority)
                return "kept already"
            if key in self._making:
                return "being kept"
            done = threading.Event()
            self._making[key] = done
        outcome: list[str] = []

        def make() -> None:
            try:
                outcome.append(self._make(key, repo_id, revision, dtype, priority, pool,
                                          deployment))
            except Exception as e:
                outcome.append(f"not kept: {type(e).__name__}: {e}")
            finally:
                logger.info("warm: %s %s", key, outcome[-1] if outcome else "not kept")
                with self._lock:
                    self._making.pop(key, None)
                done.set()

        worker = threading.Thread(target=make, name=f"warm-keep-{key[:40]}", daemon=True)
        worker.start()
        if not wait:
            return "keeping"
        worker.join()
        return outcome[-1]

    def _make(self, key, repo_id, revision, dtype, priority, pool, deployment) -> str:
        import torch

        files = weight_files(repo_id, revision)
        if not files:
            return "not kept: no safetensors files of it on this node"
        started = time.monotonic()
        index, buffer = pack_files(files, getattr(torch, dtype))
        size = packed_size(index)
        with self._lock:
            drops = make_room(self._entries(), key, size, priority, self.budget)
            if drops is None:
                return (f"not kept: {size} bytes do not fit the warm budget of {self.budget}"
                        f" bytes (this node's object store holds {self.capacity}) beside copies of"
                        " higher priority")
            for victim in drops:
                self._drop(victim, f"making room for {key}")
        ref = ray.put(buffer)
        now = time.time()
        with self._lock:
            self._copies[key] = {
                "index": index, "ref": ref, "size": size, "priority": priority,
                "last_used": now, "kept_at": now, "pool": pool, "deployment": deployment,
                "dtype": dtype,
            }
        return f"kept ({size} bytes in {time.monotonic() - started:.2f} s)"

    def take(self, key: str, dtype: str) -> Optional[tuple[list[dict[str, Any]], list]]:
        """The copy's index and its object (in a list, so that Ray hands over the reference and
        not the value); None when this node keeps none in that dtype. A copy being made is
        waited for: its model was stopped a moment ago, and comes back now."""
        with self._lock:
            making = self._making.get(key)
        if making is not None:
            making.wait(MAKING_WAIT_SECONDS)
        with self._lock:
            copy = self._copies.get(key)
            if copy is None or copy["dtype"] != dtype:
                return None
            copy["last_used"] = time.time()
            return copy["index"], [copy["ref"]]

    def limits(self) -> dict[str, int]:
        return {"budget": self.budget, "object_store": self.capacity}

    def drop(self, key: str) -> bool:
        with self._lock:
            return self._drop(key, "asked to") is not None

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return self._describe()

    def _describe(self) -> list[dict[str, Any]]:
        return [
            {"key": key, "node_id": self.node_id, "node": self.node_name, "bytes": c["size"],
             "priority": c["priority"], "last_used": c["last_used"], "kept_at": c["kept_at"],
             "pool": c["pool"], "deployment": c["deployment"]}
            for key, c in self._copies.items()
        ]

    def _entries(self) -> list[Entry]:
        return [Entry(k, c["size"], c["priority"], c["last_used"]) for k, c in self._copies.items()]

    def _fit(self) -> None:
        used = sum(c["size"] for c in self._copies.values())
        for entry in sorted(self._entries(), key=lambda e: (e.priority, e.last_used)):
            if used <= self.budget:
                return
            self._drop(entry.key, "the budget shrank")
            used -= entry.size

    def _drop(self, key: str, why: str):
        copy = self._copies.pop(key, None)
        if copy is not None:
            logger.info("warm: dropped %s (%s)", key, why)
        return copy


# The share of a node's object store that warm copies may fill; Serve and requests use the rest.
STORE_SHARE = 0.8
# How long a starting replica waits for a copy of its model that is being made.
MAKING_WAIT_SECONDS = 120


def _object_store_bytes(node_id: str) -> int:
    try:
        for node in ray.nodes():
            if node.get("NodeID") == node_id:
                return int(node.get("Resources", {}).get("object_store_memory", 0))
    except Exception:  # unknown: the owner's budget as given
        pass
    return 0


def store_here(budget_bytes: int):
    """This node's store, started if there is none yet (pinned to the node, outliving its
    starter)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    context = ray.get_runtime_context()
    node_id = context.get_node_id()
    store = WarmStore.options(
        name=store_name(node_id),
        namespace=NAMESPACE,
        lifetime="detached",
        get_if_exists=True,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),
    ).remote(node_id, socket.gethostname(), budget_bytes)
    return store


def stores() -> list:
    """Every node's store."""
    names = [
        a["name"]
        for a in ray.util.list_named_actors(all_namespaces=True)
        if a.get("namespace") == NAMESPACE and a["name"].startswith(_PREFIX)
    ]
    found = []
    for name in names:
        try:
            found.append(ray.get_actor(name, namespace=NAMESPACE))
        except ValueError:
            pass  # gone since it was listed
    return found


def find(key: str, dtype: str, here, timeout: float = 30.0):
    """The copy of ``key`` (index, buffer) from this node's store, else from any other; None."""
    candidates = [here] + [s for s in stores() if s._actor_id != here._actor_id]
    for store in candidates:
        try:
            found = ray.get(store.take.remote(key, dtype), timeout=timeout)
        except Exception as e:  # a store that died takes its copies with it
            logger.info("warm: a store did not answer for %s: %s", key, e)
            continue
        if found is not None:
            index, refs = found
            return index, ray.get(refs[0], timeout=timeout)
    return None


def all_entries(timeout: float = 5.0) -> list[dict[str, Any]]:
    """What every store keeps (stores that do not answer in time are left out)."""
    calls = [s.entries.remote() for s in stores()]
    if not calls:
        return []
    ready, _ = ray.wait(calls, num_returns=len(calls), timeout=timeout)
    entries: list[dict[str, Any]] = []
    for call in ready:
        try:
            entries.extend(ray.get(call))
        except Exception:
            pass
    return entries
