"""An OTLP/HTTP endpoint on loopback that keeps what it is sent, and the spans in it: where the
gateway's tests and benchmark read its request spans."""

from __future__ import annotations

import http.server
import threading


class SpanReceiver:
    def __init__(self):
        self.received: list[tuple[str, bytes]] = []  # (path, body) of each export
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((self.path, body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self, name: str) -> list:
        """Every span of that name in what was received, in the order received."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        found = []
        for _, body in list(self.received):
            export = ExportTraceServiceRequest()
            export.ParseFromString(body)
            for resource in export.resource_spans:
                for scope in resource.scope_spans:
                    found.extend(span for span in scope.spans if span.name == name)
        return found

    def shutdown(self) -> None:
        self.server.shutdown()
