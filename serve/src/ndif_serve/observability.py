"""The gateway's metrics (through Ray's metrics export, scraped with Ray's own) and, when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, an OpenTelemetry span per request."""

from __future__ import annotations

import contextlib
import os

_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800]


class GatewayMetrics:
    def __init__(self):
        from ray.util import metrics

        self._requests = metrics.Counter(
            "ndif_gateway_requests",
            description="nnsight requests by model key and outcome.",
            tag_keys=("model_key", "outcome"),
        )
        self._queue = metrics.Histogram(
            "ndif_gateway_queue_seconds",
            description="Time from a request's arrival until a replica starts running it.",
            boundaries=_SECONDS,
            tag_keys=("model_key",),
        )
        self._execution = metrics.Histogram(
            "ndif_gateway_execution_seconds",
            description="Time a replica spent on a request, until its result or error.",
            boundaries=_SECONDS,
            tag_keys=("model_key",),
        )
        self._paths = metrics.Counter(
            "ndif_gateway_execution_paths",
            description="nnsight requests by the key's name and the path they ran on:"
            " contained, or in-process (the trust policy let the key in).",
            tag_keys=("key_name", "path"),
        )
        self._refused = metrics.Counter(
            "ndif_gateway_refused",
            description="nnsight requests refused by a key's fair-share limit, by key name and"
            " limit.",
            tag_keys=("key_name", "limit"),
        )
        self._plain_keys = metrics.Gauge(
            "ndif_gateway_plain_keys",
            description="Entries of the API key file that hold a key itself instead of its sha256.",
        )

    def plain_keys(self, count: int) -> None:
        self._plain_keys.set(count)

    def path(self, key_name: str, path: str) -> None:
        self._paths.inc(1, tags={"key_name": key_name, "path": path})

    def refused(self, key_name: str, limit: str) -> None:
        self._refused.inc(1, tags={"key_name": key_name, "limit": limit})

    def request(self, model_key: str, outcome: str) -> None:
        self._requests.inc(1, tags={"model_key": model_key, "outcome": outcome})

    def queued(self, model_key: str, seconds: float) -> None:
        self._queue.observe(seconds, tags={"model_key": model_key})

    def executed(self, model_key: str, seconds: float) -> None:
        self._execution.observe(seconds, tags={"model_key": model_key})


class _NoSpan:
    def set_attribute(self, key, value) -> None:
        pass

    def add_event(self, name, attributes=None, timestamp=None) -> None:
        pass


class _NoTracer:
    @contextlib.contextmanager
    def start_as_current_span(self, name):
        yield _NoSpan()


def tracer():
    """An OTLP/HTTP tracer when OTEL_EXPORTER_OTLP_ENDPOINT is set, else one that records
    nothing."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return _NoTracer()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(
        resource=Resource.create(
            {"service.name": os.environ.get("OTEL_SERVICE_NAME", "ndif-gateway")}
        )
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer("ndif_serve.gateway")
