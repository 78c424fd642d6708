"""Builds a tiny GPT-2 with random weights and its own tokenizer, so tests and demos can serve a real
transformers model without downloading anything from a hub: in a local directory, or under a
repository id in a Hugging Face cache (``$HF_HOME/hub``), where replicas read it offline and
nnsight's client finds its config and tokenizer as it would after a download."""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

_CORPUS = [
    "The National Deep Inference Fabric serves large open models to researchers.",
    "Ray Serve runs each model as an application with replicas on GPU nodes.",
    "Kubernetes operators reconcile what is declared with what is observed.",
]


def build_tiny_model(
    directory: str | Path, seed: int = 0, width: int = 32, layers: int = 2
) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(_CORPUS, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    fast.save_pretrained(directory)

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(fast),
        n_positions=128,
        n_embd=width,
        n_layer=layers,
        n_head=max(2, width // 64),
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(directory)
    return directory


REPO_ID = "ndif-local/tiny-gpt2"


def cache_folder(hub_cache: str | Path, repo_id: str) -> Path:
    """Where the Hugging Face cache keeps a model repository."""
    return Path(hub_cache) / ("models--" + repo_id.replace("/", "--"))


def build_tiny_model_in_hub_cache(
    hub_cache: str | Path, repo_id: str = REPO_ID, seed: int = 0, width: int = 32, layers: int = 2
) -> Path:
    """The tiny model as the Hub's client caches a download of ``repo_id``: files in ``blobs/``
    named by their SHA-256, a snapshot of links named by a commit, and ``refs/main`` naming it.
    Returns the snapshot directory."""
    folder = cache_folder(hub_cache, repo_id)
    with tempfile.TemporaryDirectory() as scratch:
        built = build_tiny_model(Path(scratch) / "model", seed, width, layers)
        files = sorted(p for p in built.iterdir() if p.is_file())
        digests = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
        # A commit id the same files always get, 40 hex digits as the Hub's.
        commit = hashlib.sha1(
            "".join(f"{name}:{digest}\n" for name, digest in digests.items()).encode()
        ).hexdigest()
        snapshot = folder / "snapshots" / commit
        if snapshot.is_dir():
            shutil.rmtree(snapshot)
        (folder / "blobs").mkdir(parents=True, exist_ok=True)
        snapshot.mkdir(parents=True)
        for p in files:
            blob = folder / "blobs" / digests[p.name]
            if not blob.exists():
                shutil.copyfile(p, blob)
            os.symlink(os.path.relpath(blob, snapshot), snapshot / p.name)
    (folder / "refs").mkdir(exist_ok=True)
    (folder / "refs" / "main").write_text(commit)
    return snapshot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory", nargs="?", help="where to write config, weights and tokenizer")
    parser.add_argument("--hub-cache", help="a Hugging Face cache ($HF_HOME/hub) to write it into")
    parser.add_argument("--repo-id", default=REPO_ID, help="its repository id in that cache")
    parser.add_argument("--seed", type=int, default=0)
    # A larger model of the same kind, for benchmarks: 1024 x 20 is about 1 GB in float32.
    parser.add_argument("--width", type=int, default=32, help="hidden size (n_embd)")
    parser.add_argument("--layers", type=int, default=2, help="transformer blocks (n_layer)")
    args = parser.parse_args()
    if (args.directory is None) == (args.hub_cache is None):
        parser.error("give either a directory or --hub-cache")
    if args.hub_cache:
        print(
            build_tiny_model_in_hub_cache(
                args.hub_cache, args.repo_id, args.seed, args.width, args.layers
            )
        )
    else:
        print(build_tiny_model(args.directory, args.seed, args.width, args.layers))


if __name__ == "__main__":
    main()
