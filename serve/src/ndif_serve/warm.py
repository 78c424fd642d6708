"""The warm tier's pure parts, with no Ray in here: a model's weights packed into one flat buffer
(one shared-memory object, mapped without a copy) and unpacked into tensors again, and the rule that
makes room for a warm copy within a node's budget."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

import torch

# Every tensor starts on a 64-byte boundary, as safetensors and the object store align theirs.
_ALIGN = 64


@dataclass(frozen=True)
class Entry:
    """One warm copy as the budget sees it."""

    key: str
    size: int
    priority: int
    last_used: float


def make_room(
    entries: Iterable[Entry], key: str, size: int, priority: int, budget: int
) -> Optional[list[str]]:
    """The copies to drop so that ``key`` of ``size`` bytes fits in ``budget``: lowest priority
    first, then least recently used, and never one of a higher priority than the newcomer's.
    None when it cannot fit (then nothing is dropped)."""
    others = [e for e in entries if e.key != key]
    free = budget - sum(e.size for e in others)
    if size > budget:
        return None
    drops: list[str] = []
    for victim in sorted(others, key=lambda e: (e.priority, e.last_used, e.key)):
        if free >= size:
            break
        if victim.priority > priority:
            return None
        drops.append(victim.key)
        free += victim.size
    return drops if free >= size else None


def weight_files(repo_id: str, revision: Optional[str]) -> list[Path]:
    """The safetensors files of a model this node has loaded (a local directory, or the Hugging
    Face cache; never a download). Empty when it has none: such a model is not kept warm."""
    local = Path(repo_id)
    if local.is_dir():
        return sorted(local.glob("*.safetensors"))
    from huggingface_hub import snapshot_download

    try:
        snapshot = snapshot_download(
            repo_id, revision=revision, local_files_only=True, allow_patterns=["*.safetensors"]
        )
    except Exception:  # not in this node's cache
        return []
    return sorted(Path(snapshot).glob("*.safetensors"))


def pack_files(files: list[Path], dtype: torch.dtype) -> tuple[list[dict[str, Any]], Any]:
    """Reads every tensor of the files, in the dtype the replica serves, into one aligned buffer
    (a numpy uint8 array: the object store maps those without a copy). Returns its index too."""
    import numpy as np
    from safetensors import safe_open

    shapes: list[tuple[Path, str, list[int], torch.dtype]] = []
    for path in files:
        with safe_open(str(path), framework="pt") as f:
            for name in f.keys():
                sliced = f.get_slice(name)
                stored = _torch_dtype(sliced.get_dtype())
                target = dtype if stored.is_floating_point else stored
                shapes.append((path, name, list(sliced.get_shape()), target))
    index: list[dict[str, Any]] = []
    offset = 0
    for path, name, shape, target in shapes:
        nbytes = _numel(shape) * torch.empty((), dtype=target).element_size()
        index.append({"name": name, "dtype": str(target).removeprefix("torch."), "shape": shape,
                      "offset": offset, "nbytes": nbytes})
        offset += -(-nbytes // _ALIGN) * _ALIGN
    buffer = np.empty(offset, dtype=np.uint8)
    flat = torch.from_numpy(buffer)
    by_file: dict[Path, list[dict[str, Any]]] = {}
    for (path, _, _, _), item in zip(shapes, index):
        by_file.setdefault(path, []).append(item)
    for path, items in by_file.items():
        with safe_open(str(path), framework="pt") as f:
            for item in items:
                view = _view(flat, item)
                view.copy_(f.get_tensor(item["name"]))
    return index, buffer


def unpack(index: list[dict[str, Any]], flat: torch.Tensor) -> dict[str, torch.Tensor]:
    """Tensors that are views of ``flat`` (a uint8 tensor over the packed buffer): no copy."""
    return {item["name"]: _view(flat, item) for item in index}


def packed_size(index: list[dict[str, Any]]) -> int:
    if not index:
        return 0
    last = max(index, key=lambda item: item["offset"])
    return last["offset"] + last["nbytes"]


def _view(flat: torch.Tensor, item: dict[str, Any]) -> torch.Tensor:
    dtype = getattr(torch, item["dtype"])
    raw = flat[item["offset"] : item["offset"] + item["nbytes"]]
    return raw.view(dtype).reshape(item["shape"])


def _numel(shape: list[int]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def _torch_dtype(name: str) -> torch.dtype:
    try:
        return _SAFETENSORS_DTYPES[name]
    except KeyError:
        raise ValueError(f"weights of dtype {name} are not kept warm") from None


def memfd_of(buffer) -> tuple[int, int]:
    """An anonymous shared-memory file holding ``buffer`` (for a zygote, which holds no Ray
    connection): its descriptor and size. The caller closes the descriptor."""
    import mmap

    size = len(buffer)
    fd = os.memfd_create("ndif-warm-weights", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, max(size, 1))
        with mmap.mmap(fd, max(size, 1)) as target:
            target[:size] = memoryview(buffer).cast("B")
    except BaseException:
        os.close(fd)
        raise
    return fd, size


def read_private(fd: int, size: int) -> torch.Tensor:
    """The file's bytes in this process's own (anonymous) memory, as a uint8 tensor. Not a
    mapping of the file: a forked child shares anonymous pages with its parent (copy-on-write)
    from the start, whereas it would fault every page of a shared mapping in again, on each
    request. What a request writes stays in its own pages either way."""
    flat = torch.empty(size, dtype=torch.uint8)
    view = memoryview(flat.numpy())
    done = 0
    while done < size:
        read = os.preadv(fd, [view[done:]], done)
        if read <= 0:
            raise OSError(f"the weights file ended at {done} of {size} bytes")
        done += read
    return flat
