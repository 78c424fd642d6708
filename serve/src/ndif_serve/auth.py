"""API keys of a gateway: read from a file (a mounted Kubernetes Secret on managed clusters),
re-read when it changes, compared in constant time."""

from __future__ import annotations

import hmac
import os
import threading
from dataclasses import dataclass
from typing import Optional

import yaml


@dataclass(frozen=True)
class Identity:
    name: Optional[str]
    tags: tuple[str, ...] = ()


class KeysUnavailable(Exception):
    """The key file cannot be used; no request is accepted until it can (auth fails closed)."""


def parse_keys(text: str, source: str) -> list[tuple[str, Identity]]:
    """Keys in YAML or JSON: ``keys: [{key, name, tags}]`` (or the list alone)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KeysUnavailable(f"the API key file {source} is not valid YAML: {e}") from None
    entries = document.get("keys") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise KeysUnavailable(
            f"the API key file {source} must hold a list under 'keys' of entries with key, name"
            " and tags"
        )
    keys = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not entry["key"]:
            raise KeysUnavailable(f"entry {index} of the API key file {source} has no 'key' string")
        tags = entry.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise KeysUnavailable(f"entry {index} of the API key file {source}: tags must be strings")
        name = entry.get("name")
        keys.append((entry["key"], Identity(str(name) if name is not None else None, tuple(tags))))
    return keys


class ApiKeys:
    """The keys in one file, re-read whenever its modification time or size changes (Kubernetes
    updates a mounted Secret in place)."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: Optional[tuple[int, int]] = None
        self._keys: list[tuple[bytes, Identity]] = []
        self._error: Optional[str] = None

    def identify(self, key: Optional[str]) -> Optional[Identity]:
        """Who holds ``key``, or None when nobody does; raises KeysUnavailable when the file
        cannot be read."""
        keys = self._current()
        if not key:
            return None
        candidate = key.encode()
        found = None
        for known, identity in keys:
            # Every key is compared, so timing does not tell how many matched or where.
            if hmac.compare_digest(known, candidate):
                found = identity
        return found

    def _current(self) -> list[tuple[bytes, Identity]]:
        try:
            stat = os.stat(self.path)
        except OSError as e:
            raise KeysUnavailable(
                f"the API key file {self.path} cannot be read ({e.strerror}); no request is"
                " accepted until it can"
            ) from None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    with open(self.path, encoding="utf-8") as f:
                        parsed = parse_keys(f.read(), self.path)
                    self._keys = [(k.encode(), identity) for k, identity in parsed]
                    self._error = None
                except (OSError, KeysUnavailable) as e:
                    self._keys = []
                    self._error = str(e)
            if self._error:
                raise KeysUnavailable(self._error + "; no request is accepted until it is fixed")
            return self._keys
