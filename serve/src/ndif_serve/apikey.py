"""API keys for a gateway's key file, which holds each key's SHA-256 and never the key.

    python -m ndif_serve.apikey new [--name NAME] [--tag TAG]...
        makes a key, prints it once, and prints its entry for the key file
    python -m ndif_serve.apikey entry [--name NAME] [--tag TAG]... < KEY
        the entry of a key read from standard input (for scripts)
    python -m ndif_serve.apikey hash < FILE > NEW_FILE
        the key file with every plain 'key' replaced by its 'sha256'
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import Optional

import yaml

from .auth import KeysUnavailable, digest, parse_entries


def make_key() -> str:
    return "ndif-" + secrets.token_urlsafe(32)


def entry(key: str, name: Optional[str], tags: list[str]) -> dict:
    item: dict = {"sha256": digest(key).hex()}
    if name:
        item["name"] = name
    if tags:
        item["tags"] = list(tags)
    return item


def entry_line(item: dict) -> str:
    """One flow-style YAML list item, as a line of ``keys:``."""
    return "- " + yaml.safe_dump(item, default_flow_style=True, sort_keys=False, width=1 << 16).strip()


def hash_file(text: str, source: str = "<stdin>") -> str:
    parse_entries(text, source)  # refuses what the gateway would refuse, with its sentence
    document = yaml.safe_load(text)
    entries = document.get("keys") if isinstance(document, dict) else document
    for item in entries:
        if "key" in item:
            plain = item.pop("key")
            hashed = {"sha256": digest(plain).hex()}
            hashed.update(item)
            item.clear()
            item.update(hashed)
    return yaml.safe_dump(document, sort_keys=False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ndif_serve.apikey", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in ("new", "entry"):
        sub = commands.add_parser(command)
        sub.add_argument("--name", help="who holds the key (logged and counted by this name)")
        sub.add_argument("--tag", action="append", default=[], help="a tag, such as trusted")
    commands.add_parser("hash")
    args = parser.parse_args(argv)
    try:
        if args.command == "new":
            key = make_key()
            print("# the key, shown once: give it to its holder as NDIF_API_KEY")
            print(key)
            print("# its entry for the gateway's key file (under keys:)")
            print(entry_line(entry(key, args.name, args.tag)))
        elif args.command == "entry":
            key = sys.stdin.read().strip()
            if not key:
                print("apikey: no key on standard input", file=sys.stderr)
                return 2
            print(entry_line(entry(key, args.name, args.tag)))
        else:
            sys.stdout.write(hash_file(sys.stdin.read()))
    except KeysUnavailable as e:
        print(f"apikey: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
