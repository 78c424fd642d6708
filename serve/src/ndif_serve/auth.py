"""API keys of a gateway: read from a file (a mounted Kubernetes Secret on managed clusters),
re-read when it changes, compared in constant time.

The file holds each key's SHA-256, never the key (``python -m ndif_serve.apikey new`` makes a key
and its entry): whoever reads the file or the Secret cannot use what they read. Entries with the
key itself (``key:``) are still accepted so that existing files keep working; each load logs a
warning naming them, and ``python -m ndif_serve.apikey hash`` rewrites such a file."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Callable, Optional

import yaml

from .fairness import Limits, limits_for

log = logging.getLogger(__name__)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Identity:
    name: Optional[str]
    tags: tuple[str, ...] = ()


class KeysUnavailable(Exception):
    """The key file cannot be used; no request is accepted until it can (auth fails closed)."""


@dataclass(frozen=True)
class KeyEntry:
    digest: bytes  # SHA-256 of the key
    identity: Identity
    plain: bool  # the file holds the key itself


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def parse_entries(text: str, source: str) -> list[KeyEntry]:
    """Entries in YAML or JSON: ``keys: [{sha256, name, tags}]`` (or the list alone); an entry
    may hold ``key`` (the key itself) instead of ``sha256``."""
    return parse_file(text, source)[0]


def parse_file(text: str, source: str) -> tuple[list[KeyEntry], dict[str, Limits]]:
    """The entries and the limits per tag (``limits: {<tag>|default: {running, queued,
    weight}}``) of a key file."""
    document = _document(text, source)
    entries = []
    for index, entry in enumerate(_entries(document, source)):
        hashed, plain = entry.get("sha256"), entry.get("key")
        if hashed is not None and plain is not None:
            raise KeysUnavailable(
                f"entry {index} of the API key file {source} has both 'sha256' and 'key'; keep"
                " only 'sha256'"
            )
        if hashed is not None:
            if not isinstance(hashed, str) or not _SHA256.match(hashed.lower()):
                raise KeysUnavailable(
                    f"entry {index} of the API key file {source}: sha256 must be 64 hex digits"
                    " (python -m ndif_serve.apikey new makes an entry)"
                )
            value = bytes.fromhex(hashed)
        elif isinstance(plain, str) and plain:
            value = digest(plain)
        else:
            raise KeysUnavailable(
                f"entry {index} of the API key file {source} has no 'sha256' (or 'key') string"
            )
        entries.append(KeyEntry(value, _identity(entry, index, source), hashed is None))
    return entries, _limits(document, source)


def _limits(document, source: str) -> dict[str, Limits]:
    by_tag = document.get("limits") if isinstance(document, dict) else None
    if by_tag is None:
        return {}
    if not isinstance(by_tag, dict):
        raise KeysUnavailable(f"limits in the API key file {source} must map tags to limits")
    try:
        return {str(tag): Limits.parse(value, f"limits.{tag}") for tag, value in by_tag.items()}
    except ValueError as e:
        raise KeysUnavailable(f"the API key file {source}: {e}") from None


def _identity(entry: dict, index: int, source: str) -> Identity:
    tags = entry.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise KeysUnavailable(f"entry {index} of the API key file {source}: tags must be strings")
    name = entry.get("name")
    return Identity(str(name) if name is not None else None, tuple(tags))


def _document(text: str, source: str):
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise KeysUnavailable(f"the API key file {source} is not valid YAML: {e}") from None


def _entries(document, source: str) -> list[dict]:
    entries = document.get("keys") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise KeysUnavailable(
            f"the API key file {source} must hold a list under 'keys' of entries with sha256,"
            " name and tags"
        )
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise KeysUnavailable(f"entry {index} of the API key file {source} is not a mapping")
    return entries


class ApiKeys:
    """The keys in one file, re-read whenever its modification time or size changes (Kubernetes
    updates a mounted Secret in place)."""

    def __init__(self, path: str, on_load: Optional[Callable[[int], None]] = None):
        """``on_load`` is told, after each successful read, how many entries hold a plain key."""
        self.path = path
        self._on_load = on_load
        self._lock = threading.Lock()
        self._stamp: Optional[tuple[int, int]] = None
        self._keys: list[KeyEntry] = []
        self._limits: dict[str, Limits] = {}
        self._error: Optional[str] = None

    def identify(self, key: Optional[str]) -> Optional[Identity]:
        """Who holds ``key``, or None when nobody does; raises KeysUnavailable when the file
        cannot be read."""
        keys = self._current()
        if not key:
            return None
        candidate = digest(key)
        found = None
        for entry in keys:
            # Every entry is compared, so timing does not tell how many matched or where.
            if hmac.compare_digest(entry.digest, candidate):
                found = entry.identity
        return found

    def _current(self) -> list[KeyEntry]:
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
                        self._keys, self._limits = parse_file(f.read(), self.path)
                    self._error = None
                    self._warn_plain()
                except (OSError, KeysUnavailable) as e:
                    self._keys = []
                    self._error = str(e)
            if self._error:
                raise KeysUnavailable(self._error + "; no request is accepted until it is fixed")
            return self._keys

    def limits(self, identity: Optional[Identity]) -> Limits:
        """The fair-share limits of a key holder, by the tags of their entry."""
        return limits_for(identity.tags if identity else (), self._limits)

    @property
    def plain_entries(self) -> int:
        """Entries of the last good read that hold a key itself."""
        return sum(entry.plain for entry in self._keys)

    def _warn_plain(self) -> None:
        plain = [e.identity.name or "(unnamed)" for e in self._keys if e.plain]
        if self._on_load is not None:
            self._on_load(len(plain))
        if plain:
            log.warning(
                "the API key file %s holds %d key(s) in plain text (%s): anyone who reads the"
                " file or its Secret can use them; replace each 'key' with its 'sha256'"
                " (python -m ndif_serve.apikey hash < FILE)",
                self.path,
                len(plain),
                ", ".join(plain),
            )
