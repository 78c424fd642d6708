"""Loading one model replica and running prompts on it, with no Ray or HTTP in it."""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from .settings import ModelSettings

logger = logging.getLogger("ndif_serve")

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


class ModelLoadError(RuntimeError):
    """The replica could not load its model; the message names the model and the cause."""


@dataclass(frozen=True)
class Generation:
    text: str
    prompt_tokens: int
    new_tokens: int


def pick_device(gpu_ids: list[Any]) -> str:
    """The GPUs Ray assigned to this replica when CUDA can use them, otherwise the CPU."""
    if gpu_ids and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def device_map(device: str, visible_gpus: int) -> str:
    """Where the weights go: spread over the replica's GPUs when it has several."""
    return "auto" if device == "cuda" and visible_gpus > 1 else device


def memory_fraction(assigned_gpus: float) -> Optional[float]:
    """A replica with a fraction of a GPU may allocate only that fraction of its memory, so that
    models sharing the GPU cannot starve each other; a whole GPU or more is not capped."""
    if 0 < assigned_gpus < 1:
        return assigned_gpus
    return None


class LoadedModel:
    """A model and its tokenizer, loaded once per replica onto the device Ray gave it."""

    def __init__(
        self,
        settings: ModelSettings,
        module: torch.nn.Module,
        tokenizer,
        device: str,
        nnsight_model: Any = None,
    ):
        self.settings = settings
        self.module = module
        self.tokenizer = tokenizer
        self.device = device
        # The nnsight wrapper that requests' persistent ids resolve against; None for a plain
        # transformers class, which serves /generate only.
        self.nnsight_model = nnsight_model
        # "cold" (from the model's files) or "warm" (from a copy the warm tier kept in memory).
        self.load_source = "cold"
        self.load_seconds = 0.0
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        settings: ModelSettings,
        gpu_ids: Optional[list[Any]] = None,
        assigned_gpus: float = 0.0,
        warm: Optional[tuple[list[dict[str, Any]], torch.Tensor]] = None,
    ) -> "LoadedModel":
        """``warm``: the packed weights (index, uint8 tensor) of a copy the warm tier kept; the
        tensors are used where they lie, so the caller hands over a buffer no one else writes."""
        device = pick_device(gpu_ids or [])
        logger.info("loading %s onto %s (%s)", settings.key, device, settings.dtype)
        started = time.monotonic()
        source = "cold"
        try:
            fraction = memory_fraction(assigned_gpus)
            if device == "cuda" and fraction is not None:
                torch.cuda.set_per_process_memory_fraction(fraction, 0)
            wrapper = _import_class(settings.wrapper)
            built = None
            if warm is not None and settings.uses_nnsight:
                try:
                    built = _instantiate_warm(wrapper, settings, device, *warm)
                    source = "warm"
                except Exception as e:  # a copy that does not fit this model is not fatal
                    logger.warning("%s: not loaded from its warm copy (%s); loading its files",
                                   settings.key, e)
            module, tokenizer, nnsight_model = built or _instantiate(wrapper, settings, device)
        except Exception as e:  # every cause of a failed load ends the replica the same way
            message = f"failed to load model {settings.key}: {type(e).__name__}: {e}"
            logger.error(message)
            raise ModelLoadError(message) from e
        module.eval()
        loaded = cls(settings, module, tokenizer, device, nnsight_model)
        loaded.load_source = source
        loaded.load_seconds = time.monotonic() - started
        logger.info(
            "loaded %s (%s, %.2f s): %d parameters, %d bytes on %s",
            settings.key,
            source,
            loaded.load_seconds,
            loaded.parameter_count(),
            loaded.memory_bytes(),
            device,
        )
        return loaded

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.module.parameters())

    def memory_bytes(self) -> int:
        tensors = list(self.module.parameters()) + list(self.module.buffers())
        return sum(t.numel() * t.element_size() for t in tensors)

    def info(self) -> dict[str, Any]:
        first = next(self.module.parameters(), None)
        info = {
            "model_key": self.settings.key,
            "repo_id": self.settings.repo_id,
            "revision": self.settings.revision,
            "wrapper": self.settings.wrapper,
            "parameters": self.parameter_count(),
            "dtype": str(first.dtype).removeprefix("torch.") if first is not None else None,
            "device": str(first.device) if first is not None else self.device,
            "memory_bytes": self.memory_bytes(),
            "execution_timeout_seconds": self.settings.execution_timeout_seconds,
            "load_source": self.load_source,
            "load_seconds": round(self.load_seconds, 3),
        }
        if self.device == "cuda":
            info["cuda_memory_allocated_bytes"] = sum(
                torch.cuda.memory_allocated(i) for i in range(torch.cuda.device_count())
            )
        return info

    def generate(
        self, prompt: str, max_new_tokens: int, deadline: Optional[float] = None
    ) -> Generation:
        """Greedy decoding, one request at a time per replica; stops at the first token after the
        deadline (a time.monotonic() value), so a timed-out request gives the replica back."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        class PastDeadline(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs):
                late = deadline is not None and time.monotonic() >= deadline
                return torch.full((input_ids.shape[0],), late, dtype=torch.bool)

        with self._lock, torch.inference_mode():
            inputs = self.tokenizer(prompt, return_tensors="pt").to(self.device)
            prompt_tokens = int(inputs["input_ids"].shape[-1])
            output = self.module.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                stopping_criteria=StoppingCriteriaList([PastDeadline()]),
                pad_token_id=self.tokenizer.pad_token_id
                if self.tokenizer.pad_token_id is not None
                else self.tokenizer.eos_token_id,
            )
            new = output[0][prompt_tokens:]
            return Generation(
                text=self.tokenizer.decode(new, skip_special_tokens=True),
                prompt_tokens=prompt_tokens,
                new_tokens=int(new.shape[-1]),
            )


def _import_class(path: str):
    module_name, _, name = path.rpartition(".")
    if module_name.split(".", 1)[0] == "nnsight":
        # Read when nnsight is first imported; a deployment may name its own file instead.
        os.environ.setdefault("NNSIGHT_CONFIG", str(Path(__file__).with_name("nnsight.yaml")))
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ImportError(f"cannot import the wrapper module {module_name!r}: {e}") from e
    try:
        return getattr(module, name)
    except AttributeError:
        raise ImportError(f"module {module_name!r} has no class {name!r}") from None


def _instantiate_warm(wrapper, settings: ModelSettings, device: str, index, flat: torch.Tensor):
    """The model built on the meta device from its key (as nnsight's client does), then given the
    warm copy's tensors in place: no file is read and no weight copied on the CPU."""
    from .warm import unpack

    wrapped = wrapper.from_model_key(settings.key, dispatch=False)
    module = wrapped._module
    tensors = unpack(index, flat)
    result = module.load_state_dict(tensors, assign=True, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"the copy has weights the model lacks: {result.unexpected_keys[:3]}")
    if hasattr(module, "tie_weights"):
        module.tie_weights()
    missing = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if missing:
        raise ValueError(f"the copy lacks {missing[:3]}")
    if device == "cuda":
        module.to(device)
    wrapped.dispatched = True
    tokenizer = getattr(wrapped, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("the model has no tokenizer")
    return module, tokenizer, wrapped


def _instantiate(wrapper, settings: ModelSettings, device: str):
    dtype = _DTYPES[settings.dtype]
    common = {
        "revision": settings.revision,
        "trust_remote_code": settings.trust_remote_code,
        "dtype": dtype,
    }
    placement = device_map(device, torch.cuda.device_count() if device == "cuda" else 0)
    wrapped = None
    if settings.uses_nnsight:
        # As NDIF does: the class, repo, revision, task and trust flag come from the model key, so
        # that the persistent ids of a request made by a client's wrapper resolve against this one.
        # nnsight builds the model on the meta device, then dispatch loads the weights.
        wrapped = wrapper.from_model_key(
            settings.key, dispatch=True, device_map=placement, dtype=dtype
        )
        module = wrapped._module
        tokenizer = getattr(wrapped, "tokenizer", None)
    elif hasattr(wrapper, "from_pretrained"):
        module = wrapper.from_pretrained(settings.repo_id, device_map=placement, **common)
        tokenizer = None
    else:
        raise TypeError(
            f"wrapper {settings.wrapper} is neither an nnsight class nor a transformers class"
            " with from_pretrained"
        )
    if tokenizer is None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(
            settings.repo_id,
            revision=settings.revision,
            trust_remote_code=settings.trust_remote_code,
        )
    if not hasattr(module, "generate"):
        raise TypeError(f"{type(module).__name__} cannot generate text")
    return module, tokenizer, wrapped

