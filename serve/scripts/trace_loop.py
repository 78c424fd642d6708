"""Sends blocking remote traces one after another through an NDIF gateway with nnsight's own
client for a while, as a researcher's loop would, and says what became of each.

Usage: python trace_loop.py --host URL --model-key KEY --model-dir DIR --seconds N [--api-key KEY]

Prints one JSON line per trace as it ends: when it started and ended (Unix time, seconds),
whether it returned the values of a local run, or the error the client raised. A trace
that raised is followed by a pause of --pause seconds, as a person would retry. Exits 0 when at
least one trace returned the right values.
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
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--prompt", default="The Eiffel Tower is in")
    args = parser.parse_args()

    import torch
    from nnsight.intervention.backends.remote import RemoteBackend
    from nnsight.modeling.transformers import TransformersModel
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = TransformersModel(args.model_dir, task="text-generation", tokenizer=tokenizer)
    local = TransformersModel(
        args.model_dir, task="text-generation", tokenizer=tokenizer, dispatch=True, dtype="float32"
    )
    with local.trace(args.prompt):
        expected = local.transformer.h[0].output.save()
    expected = expected.detach()

    begin = time.monotonic()
    right = 0
    while time.monotonic() - begin < args.seconds:
        backend = RemoteBackend(
            model_key=args.model_key,
            host=args.host.rstrip("/"),
            api_key=args.api_key,
            env=model._remoteable_get_env(),
        )
        outcome = {"started": round(time.time(), 3)}
        try:
            with model.trace(args.prompt, backend=backend):
                hidden = model.transformer.h[0].output.save()
            same = bool(torch.allclose(hidden.detach(), expected, atol=1e-6))
            outcome["ok"] = same
            if not same:
                outcome["error"] = "a different answer"
        except Exception as error:  # the client's own exception: a sentence or a lost connection
            outcome["ok"] = False
            outcome["error"] = f"{type(error).__name__}: {error}"[:300]
        outcome["ended"] = round(time.time(), 3)
        print(json.dumps(outcome), flush=True)
        if outcome["ok"]:
            right += 1
        else:
            time.sleep(args.pause)
    return 0 if right else 1


if __name__ == "__main__":
    sys.exit(main())
