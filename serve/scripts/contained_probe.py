"""Sends one block through an NDIF gateway with nnsight's own client that tries, from wherever
the replica runs it, what a key holder must not be able to do, and prints one JSON line with
what each attempt found: reading the pod's service-account token and the gateway's key file,
the environment's names, a TCP connection to the API server, an HTTP call to the Ray dashboard.

Usage: python contained_probe.py --host URL --model-key KEY --model-dir DIR --api-key KEY
                                 --dashboard URL
"""

import argparse
import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True, help="the gateway's URL (NDIF_HOST)")
    parser.add_argument("--model-key", required=True)
    parser.add_argument("--model-dir", required=True, help="the model's local directory")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--dashboard", required=True, help="the Ray dashboard's URL in the cluster")
    args = parser.parse_args()

    import nnsight
    from nnsight.intervention.backends.remote import RemoteBackend
    from nnsight.modeling.transformers import TransformersModel
    from transformers import AutoTokenizer

    model = TransformersModel(
        args.model_dir, task="text-generation", tokenizer=AutoTokenizer.from_pretrained(args.model_dir)
    )
    backend = RemoteBackend(
        model_key=args.model_key,
        host=args.host.rstrip("/"),
        api_key=args.api_key,
        env=model._remoteable_get_env(),
    )
    dashboard = args.dashboard.rstrip("/") + "/api/serve/applications/"
    with model.trace("probe", backend=backend):
        import os as system
        import socket
        import urllib.request

        def attempt(action):
            try:
                value = action()
                return "succeeded: " + str(value)[:80]
            except Exception as e:  # what the attacker would see
                return type(e).__name__ + ": " + str(e)

        found = nnsight.save(
            {
                "service_account_token": attempt(
                    lambda: open("/var/run/secrets/kubernetes.io/serviceaccount/token").read()
                ),
                "api_keys": attempt(lambda: open("/etc/ndif/api-keys/keys.yaml").read()),
                "environment": sorted(system.environ),
                "api_server": attempt(
                    lambda: socket.create_connection(("kubernetes.default.svc", 443), timeout=3)
                ),
                "dashboard": attempt(lambda: urllib.request.urlopen(dashboard, timeout=3).read()),
            }
        )
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
