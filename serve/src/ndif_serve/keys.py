"""NDIF model keys as nnsight 0.8.1's ``to_model_key()`` writes them, and the comparison the gateway
routes by (a key written by an older client, or with ``revision="main"``, names the same model)."""

from __future__ import annotations

import json
from typing import Any, Optional

TRANSFORMERS_MODEL = "nnsight.modeling.transformers.TransformersModel"
# The deprecated alias: 0.8.1 keys it as TransformersModel with the task pinned.
LANGUAGE_MODEL = "nnsight.modeling.language.LanguageModel"
DEFAULT_TASK = "text-generation"

# transformers.pipelines.TASK_ALIASES, which TransformersModel applies to the task in its key.
TASK_ALIASES = {
    "sentiment-analysis": "text-classification",
    "ner": "token-classification",
    "vqa": "visual-question-answering",
    "text-to-speech": "text-to-audio",
}


def model_key(
    wrapper: str,
    repo_id: str,
    revision: Optional[str] = None,
    trust_remote_code: bool = False,
    task: Optional[str] = None,
) -> str:
    """The key a client's wrapper of this checkpoint sends (the Hub's canonical spelling of
    ``repo_id`` aside). Classes other than nnsight's Hugging Face wrappers keep NDIF's older
    ``{"repo_id", "revision"}`` form."""
    if wrapper in (LANGUAGE_MODEL, TRANSFORMERS_MODEL):
        data: dict[str, Any] = {"repo_id": repo_id, "revision": revision}
        if trust_remote_code:
            data["trust_remote_code"] = True
        resolved = DEFAULT_TASK if wrapper == LANGUAGE_MODEL or not task else task
        data["task"] = TASK_ALIASES.get(resolved, resolved)
        return f"{TRANSFORMERS_MODEL}:{json.dumps(data)}"
    data = {"repo_id": repo_id}
    if revision:
        data["revision"] = revision
    return f"{wrapper}:{json.dumps(data)}"


def normalize(key: str) -> str:
    """The form two keys are compared in: the LanguageModel prefix as TransformersModel (with its
    pinned task), ``revision`` "main" as null, and ``trust_remote_code: false`` as absent."""
    prefix, sep, suffix = key.partition(":")
    if not sep:
        return key
    try:
        data = json.loads(suffix)
    except ValueError:
        return key
    if not isinstance(data, dict) or "repo_id" not in data:
        return key
    if prefix not in (LANGUAGE_MODEL, TRANSFORMERS_MODEL):
        return key
    task = data.pop("task", None)
    if prefix == LANGUAGE_MODEL and task is None:
        task = DEFAULT_TASK
    revision = data.pop("revision", None)
    canonical: dict[str, Any] = {
        "repo_id": data.pop("repo_id"),
        "revision": None if revision == "main" else revision,
    }
    if data.pop("trust_remote_code", False):
        canonical["trust_remote_code"] = True
    canonical["task"] = TASK_ALIASES.get(task, task)
    canonical.update(sorted(data.items()))
    return f"{TRANSFORMERS_MODEL}:{json.dumps(canonical)}"


def describe(key: str) -> dict[str, Any]:
    """repo_id, revision, task and trust_remote_code of a key, as nnsight.status() shows them."""
    _, _, suffix = key.partition(":")
    try:
        data = json.loads(suffix)
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return {
        "repo_id": data.get("repo_id", key),
        "revision": data.get("revision"),
        "task": data.get("task"),
        "trust_remote_code": bool(data.get("trust_remote_code", False)),
    }
