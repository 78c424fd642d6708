package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.ray.ServeDashboard;
import io.ndif.operator.testing.FakeRayDashboard;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.Test;

class TracingTest {
  @Test
  void aReconcileSpanCarriesTheResourceAndParentsTheDashboardCalls() throws Exception {
    var exporter = InMemorySpanExporter.create();
    var provider =
        SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(exporter)).build();
    var tracing =
        new Tracing(
            OpenTelemetrySdk.builder().setTracerProvider(provider).build(), provider::close);
    var cluster = new NdifCluster();
    cluster.setMetadata(
        new ObjectMetaBuilder().withName("fleet").withNamespace("ns").withGeneration(3L).build());
    try (var fake = new FakeRayDashboard()) {
      var dashboard = new ServeDashboard(new FleetMetrics(new SimpleMeterRegistry()), tracing);
      tracing.reconcile(
          "ndifcluster",
          cluster,
          () -> {
            try {
              return dashboard.applications(fake.url());
            } catch (ServeDashboard.DashboardException e) {
              throw new IllegalStateException(e);
            }
          });
    }
    var spans = exporter.getFinishedSpanItems();
    assertThat(spans)
        .extracting(s -> s.getName())
        .containsExactly("ray.dashboard GET", "reconcile ndifcluster");
    var reconcile = spans.get(1);
    assertThat(reconcile.getAttributes().get(AttributeKey.stringKey("k8s.namespace.name")))
        .isEqualTo("ns");
    assertThat(reconcile.getAttributes().get(AttributeKey.stringKey("k8s.resource.name")))
        .isEqualTo("fleet");
    assertThat(reconcile.getAttributes().get(AttributeKey.stringKey("k8s.resource.kind")))
        .isEqualTo("NdifCluster");
    assertThat(reconcile.getAttributes().get(AttributeKey.longKey("k8s.resource.generation")))
        .isEqualTo(3L);
    assertThat(spans.get(0).getParentSpanId()).isEqualTo(reconcile.getSpanId());
    assertThat(spans.get(0).getTraceId()).isEqualTo(reconcile.getTraceId());
  }

  @Test
  void withoutAnEndpointTracingIsANoOp() {
    var tracing = Tracing.fromEnvironment(java.util.Map.of());
    assertThat(tracing.reconcile("x", clusterNamed("a"), () -> 42)).isEqualTo(42);
  }

  private static NdifCluster clusterNamed(String name) {
    var c = new NdifCluster();
    c.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("ns").build());
    return c;
  }
}
