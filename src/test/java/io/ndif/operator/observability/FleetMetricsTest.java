package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.Test;

class FleetMetricsTest {
  @Test
  void deploymentsAreCountedByTheirCurrentReadyReason() {
    var registry = new SimpleMeterRegistry();
    var metrics = new FleetMetrics(registry);
    metrics.deployment("ns", "a", "Running");
    metrics.deployment("ns", "b", "Running");
    metrics.deployment("ns", "b", "DeployFailed");

    assertThat(registry.get("ndif.deployments").tag("ready_reason", "Running").gauge().value())
        .isEqualTo(1.0);
    assertThat(registry.get("ndif.deployments").tag("ready_reason", "DeployFailed").gauge().value())
        .isEqualTo(1.0);
  }
}
