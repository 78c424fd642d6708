"""Runs one remote trace through an NDIF gateway with nnsight's own client, as a researcher would,
and compares what comes back with the same trace run locally.

Usage: python remote_trace.py --host URL --model-key KEY --model-dir DIR [--api-key KEY]
                              [--prompt TEXT] [--busy SECONDS] [--expect-error TEXT]

Prints one JSON line: the saved hidden state's shape, its largest difference from a local run and
whether they match, or the error the client raised. Exits 0 when the outcome is the expected one.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="the gateway's URL (NDIF_HOST)")
    parser.add_argument("--model-key", required=True)
    parser.add_argument("--model-dir", required=True, help="the model's local directory")
    parser.add_argument("--api-key", default=os.environ.get("NDIF_API_KEY", ""))
    parser.add_argument("--prompt", default="The Eiffel Tower is in")
    parser.add_argument("--busy", type=float, default=0, help="seconds the block spins first")
    parser.add_argument("--expect-error", help="succeed only if the client raises this text")
    args = parser.parse_args()

    import torch
    from nnsight.intervention.backends.remote import RemoteBackend, RemoteError
    from nnsight.modeling.transformers import TransformersModel
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = TransformersModel(args.model_dir, task="text-generation", tokenizer=tokenizer)
    backend = RemoteBackend(
        model_key=args.model_key,
        host=args.host.rstrip("/"),
        api_key=args.api_key,
        env=model._remoteable_get_env(),
    )
    started = time.monotonic()
    busy = args.busy
    try:
        with model.trace(args.prompt, backend=backend):
            if busy:
                end = time.monotonic() + busy
                while time.monotonic() < end:
                    pass
            hidden = model.transformer.h[0].output.save()
    except RemoteError as error:
        print(json.dumps({"error": str(error), "seconds": round(time.monotonic() - started, 3)}))
        return 0 if args.expect_error and args.expect_error in str(error) else 1
    seconds = round(time.monotonic() - started, 3)
    if args.expect_error:
        print(json.dumps({"error": None, "expected": args.expect_error}))
        return 1

    local = TransformersModel(
        args.model_dir, task="text-generation", tokenizer=tokenizer, dispatch=True, dtype="float32"
    )
    with local.trace(args.prompt):
        expected = local.transformer.h[0].output.save()
    hidden, expected = hidden.detach(), expected.detach()
    same = bool(torch.allclose(hidden, expected, atol=1e-6))
    print(
        json.dumps(
            {
                "shape": list(hidden.shape),
                "max_abs_diff": float((hidden - expected).abs().max()),
                "matches_local": same,
                "seconds": seconds,
                "runtime": (backend.meta or {}).get("runtime"),
            }
        )
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
