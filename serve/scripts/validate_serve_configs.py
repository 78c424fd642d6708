"""Checks Serve configs (JSON files) against Ray's own ServeDeploySchema.

Usage: python validate_serve_configs.py FILE...
Prints one line per file, "valid FILE" or "invalid FILE: reason"; exits 1 if any is invalid.
"""

import json
import sys

from ray.serve.schema import ServeDeploySchema


def main(paths: list[str]) -> int:
    if not paths:
        print("no files given", file=sys.stderr)
        return 2
    invalid = 0
    for path in paths:
        try:
            with open(path) as f:
                ServeDeploySchema.model_validate(json.load(f))
            print(f"valid {path}")
        except Exception as e:  # the schema's errors and unreadable JSON alike
            invalid += 1
            reason = " ".join(str(e).split())
            print(f"invalid {path}: {reason}")
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
