"""A loopback stand-in for the one route of the Hugging Face Hub that nnsight's client calls before
a remote trace: model info (``GET /api/models/{repo_id}[/revision/{revision}]``), which it asks to
canonicalize a repository id. It answers for the repositories of a Hugging Face cache, with
RepoNotFound for any other id, and with 501 on every other route, so that the client reads files
from its own cache as it does when the Hub cannot be reached. Nothing else of the Hub is imitated.

Usage: python hub_stand_in.py --hub-cache DIR [--port N]
Prints its URL, the value for HF_ENDPOINT, once it listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import re
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

_ROUTE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+?)(?:/revision/(?P<revision>[^/]+))?/?$")


def _parameters(snapshot: Path) -> dict[str, int]:
    """Parameters by dtype, read from the safetensors headers as the Hub indexes them."""
    counts: dict[str, int] = {}
    for file in sorted(snapshot.glob("*.safetensors")):
        with open(file, "rb") as f:
            (size,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(size))
        for name, tensor in header.items():
            if name == "__metadata__":
                continue
            count = 1
            for dim in tensor["shape"]:
                count *= dim
            counts[tensor["dtype"]] = counts.get(tensor["dtype"], 0) + count
    return counts


def model_info(hub_cache: Path, repo_id: str, revision: str | None) -> dict | None:
    """The Hub's model-info record for a cached repository, or None when it is not cached."""
    folder = hub_cache / ("models--" + repo_id.replace("/", "--"))
    ref = folder / "refs" / "main"
    if not ref.is_file():
        return None
    commit = ref.read_text().strip()
    if revision not in (None, "main", commit):
        return {"error": "revision", "commit": commit}
    snapshot = folder / "snapshots" / commit
    config = json.loads((snapshot / "config.json").read_text()) if (snapshot / "config.json").is_file() else {}
    parameters = _parameters(snapshot)
    return {
        "_id": commit[:24],
        "id": repo_id,
        "modelId": repo_id,
        "sha": commit,
        "private": False,
        "disabled": False,
        "gated": False,
        "downloads": 0,
        "likes": 0,
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["transformers", "safetensors", config.get("model_type", "model"), "text-generation"],
        "config": {k: config[k] for k in ("architectures", "model_type") if k in config},
        "siblings": [{"rfilename": p.name} for p in sorted(snapshot.iterdir())],
        "safetensors": {"parameters": parameters, "total": sum(parameters.values())},
    }


class _Handler(BaseHTTPRequestHandler):
    hub_cache: Path

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _answer(self) -> None:
        match = _ROUTE.match(unquote(urlsplit(self.path).path))
        if self.command != "GET" or match is None:
            self._send(
                501,
                {"error": "This Hub stand-in answers only model info (GET /api/models/{repo_id})."},
            )
            return
        repo_id = match.group("repo")
        info = model_info(self.hub_cache, repo_id, match.group("revision"))
        if info is None:
            self._send(
                404,
                {"error": f"Repository {repo_id} is not in this stand-in's cache."},
                {"X-Error-Code": "RepoNotFound"},
            )
        elif "error" in info:
            self._send(
                404,
                {"error": f"Invalid rev id: {match.group('revision')}"},
                {"X-Error-Code": "RevisionNotFound"},
            )
        else:
            self._send(200, info)

    do_GET = _answer
    do_HEAD = _answer
    do_POST = _answer
    do_PUT = _answer


def serve(hub_cache: str | Path, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Starts the stand-in on 127.0.0.1 in a daemon thread; returns it and its URL."""
    handler = type("Handler", (_Handler,), {"hub_cache": Path(hub_cache)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True, name="hub-stand-in").start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hub-cache", required=True, help="a Hugging Face cache ($HF_HOME/hub)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server, url = serve(args.hub_cache, args.port)
    print(url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
