package io.ndif.operator.observability;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Scope;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Traces: one span per reconcile with the resource as attributes, child spans for Ray dashboard
 * calls and status writes. Spans go to OTLP/HTTP when {@code OTEL_EXPORTER_OTLP_ENDPOINT} is set;
 * otherwise tracing is a no-op.
 */
public class Tracing implements AutoCloseable {
  private static final AttributeKey<String> KIND = AttributeKey.stringKey("k8s.resource.kind");
  private static final AttributeKey<String> NAMESPACE =
      AttributeKey.stringKey("k8s.namespace.name");
  private static final AttributeKey<String> NAME = AttributeKey.stringKey("k8s.resource.name");
  private static final AttributeKey<Long> GENERATION =
      AttributeKey.longKey("k8s.resource.generation");

  private final OpenTelemetry openTelemetry;
  private final Tracer tracer;
  private final AutoCloseable shutdown;

  public Tracing(OpenTelemetry openTelemetry, AutoCloseable shutdown) {
    this.openTelemetry = openTelemetry;
    this.tracer = openTelemetry.getTracer("io.ndif.operator");
    this.shutdown = shutdown;
  }

  public static Tracing noop() {
    return new Tracing(OpenTelemetry.noop(), () -> {});
  }

  /** From OTEL_EXPORTER_OTLP_ENDPOINT (the OTLP/HTTP base URL) and SERVICE_NAME. */
  public static Tracing fromEnvironment(Map<String, String> env) {
    String endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT");
    if (endpoint == null || endpoint.isBlank()) {
      return noop();
    }
    var exporter =
        OtlpHttpSpanExporter.builder()
            .setEndpoint(endpoint.replaceAll("/+$", "") + "/v1/traces")
            .build();
    var provider =
        SdkTracerProvider.builder()
            .setResource(
                Resource.getDefault()
                    .merge(
                        Resource.create(
                            Attributes.of(
                                AttributeKey.stringKey("service.name"),
                                env.getOrDefault("SERVICE_NAME", "ndif-operator")))))
            .addSpanProcessor(BatchSpanProcessor.builder(exporter).build())
            .build();
    var sdk = OpenTelemetrySdk.builder().setTracerProvider(provider).build();
    return new Tracing(sdk, provider::close);
  }

  /** Runs a reconcile inside its span; an exception marks the span failed and goes on. */
  public <T> T reconcile(String controller, HasMetadata resource, Supplier<T> work) {
    Span span =
        tracer
            .spanBuilder("reconcile " + controller)
            .setAttribute(KIND, resource.getKind())
            .setAttribute(NAMESPACE, resource.getMetadata().getNamespace())
            .setAttribute(NAME, resource.getMetadata().getName())
            .setAttribute(
                GENERATION,
                resource.getMetadata().getGeneration() == null
                    ? 0L
                    : resource.getMetadata().getGeneration())
            .startSpan();
    String reconcileId =
        span.getSpanContext().isValid()
            ? span.getSpanContext().getSpanId()
            : java.util.UUID.randomUUID().toString().substring(0, 16);
    try (Scope ignored = span.makeCurrent();
        var mdc = new MdcFields(resource, reconcileId)) {
      return work.get();
    } catch (RuntimeException e) {
      span.recordException(e);
      span.setStatus(StatusCode.ERROR);
      throw e;
    } finally {
      span.end();
    }
  }

  /** A child span of the current one (a dashboard call, a status write). */
  public <T, E extends Exception> T child(String name, ThrowingSupplier<T, E> work) throws E {
    Span span = tracer.spanBuilder(name).startSpan();
    try (Scope ignored = span.makeCurrent()) {
      return work.get();
    } catch (Exception e) {
      span.recordException(e);
      span.setStatus(StatusCode.ERROR);
      throw e;
    } finally {
      span.end();
    }
  }

  /** The log fields of one reconcile: resource, namespace, reconcileId. */
  private static final class MdcFields implements AutoCloseable {
    MdcFields(HasMetadata resource, String reconcileId) {
      org.slf4j.MDC.put("resource", resource.getKind() + "/" + resource.getMetadata().getName());
      org.slf4j.MDC.put("namespace", resource.getMetadata().getNamespace());
      org.slf4j.MDC.put("reconcileId", reconcileId);
    }

    @Override
    public void close() {
      org.slf4j.MDC.remove("resource");
      org.slf4j.MDC.remove("namespace");
      org.slf4j.MDC.remove("reconcileId");
    }
  }

  /** A supplier that may throw a checked exception. */
  @FunctionalInterface
  public interface ThrowingSupplier<T, E extends Exception> {
    T get() throws E;
  }

  public OpenTelemetry openTelemetry() {
    return openTelemetry;
  }

  @Override
  public void close() {
    try {
      shutdown.close();
    } catch (Exception e) {
      // Shutting down; spans that could not be flushed are lost, nothing else is.
    }
  }
}
