package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ndif.operator.api.NdifClusterStatus;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class FleetMetricsTest {
  private static final Instant NOW = Instant.parse("2026-12-05T12:00:00Z");
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
  private final FleetMetrics metrics = new FleetMetrics(registry, Clock.fixed(NOW, ZoneOffset.UTC));

  @Test
  void theLongestWaitForAdmissionIsTheOldestWaitingDeployment() {
    List<HasMetadata> live = new ArrayList<>(List.of(object("ns", "a"), object("ns", "b")));
    metrics.liveDeployments(live::stream);
    assertThat(longestWait()).isEqualTo(0.0);

    metrics.deployment("ns", "a", "NotDeployed", NOW.minusSeconds(600));
    metrics.deployment("ns", "b", "NotDeployed", NOW.minusSeconds(60));
    assertThat(longestWait()).isEqualTo(600.0);

    metrics.deployment("ns", "a", "Running", null);
    assertThat(longestWait()).isEqualTo(60.0);

    live.remove(1);
    metrics.forgetDeleted();
    assertThat(longestWait()).isEqualTo(0.0);
  }

  @Test
  void leadershipIsAGauge() {
    assertThat(registry.get("ndif.operator.leader").gauge().value()).isEqualTo(0.0);
    metrics.leading(true);
    assertThat(registry.get("ndif.operator.leader").gauge().value()).isEqualTo(1.0);
    metrics.leading(false);
    assertThat(registry.get("ndif.operator.leader").gauge().value()).isEqualTo(0.0);
  }

  @Test
  void aClusterWhoseDashboardDoesNotAnswerIsUnreachable() {
    var status = status("a100");
    metrics.cluster("ns", "fleet", status);
    assertThat(registry.get("ndif.cluster.dashboard.reachable").gauge().value()).isEqualTo(1.0);

    status.conditions =
        new Conditions(null, 1L, Clock.systemUTC())
            .set("ServeConfigApplied", false, "DashboardUnreachable", "connection refused")
            .build();
    metrics.cluster("ns", "fleet", status);
    assertThat(registry.get("ndif.cluster.dashboard.reachable").gauge().value()).isEqualTo(0.0);
  }

  private double longestWait() {
    return registry.get("ndif.deployments.pending.longest").gauge().value();
  }

  @Test
  void deploymentsAreCountedByTheirCurrentReadyReason() {
    metrics.deployment("ns", "a", "Running", null);
    metrics.deployment("ns", "b", "Running", null);
    metrics.deployment("ns", "b", "DeployFailed", null);

    assertThat(deployments("Running")).isEqualTo(1.0);
    assertThat(deployments("DeployFailed")).isEqualTo(1.0);
  }

  @Test
  void deletedDeploymentsStopBeingCounted() {
    List<HasMetadata> live = new ArrayList<>(List.of(object("ns", "a"), object("ns", "b")));
    metrics.liveDeployments(live::stream);
    metrics.deployment("ns", "a", "Running", null);
    metrics.deployment("ns", "b", "Running", null);

    live.remove(1);
    metrics.forgetDeleted();

    assertThat(deployments("Running")).isEqualTo(1.0);
  }

  @Test
  void poolGaugesFollowTheClusterStatus() {
    metrics.cluster("ns", "fleet", status("a100", "h100"));
    assertThat(registry.find("ndif.pool.gpus.ready").gauges()).hasSize(2);
    assertThat(registry.get("ndif.pool.gpus.ready").tag("pool", "h100").gauge().value())
        .isEqualTo(8.0);

    metrics.cluster("ns", "fleet", status("a100"));

    assertThat(registry.find("ndif.pool.gpus.ready").tag("pool", "h100").gauges()).isEmpty();
    assertThat(registry.find("ndif.pool.gpus.ready").tag("pool", "a100").gauges()).hasSize(1);
  }

  @Test
  void aDeletedClusterLosesAllItsSeriesAndOthersKeepTheirs() {
    List<HasMetadata> live = new ArrayList<>(List.of(object("ns", "fleet"), object("ns", "other")));
    metrics.liveClusters(live::stream);
    metrics.cluster("ns", "fleet", status("a100"));
    metrics.cluster("ns", "other", status("a100"));

    live.remove(0);
    metrics.forgetDeleted();

    assertThat(registry.find("ndif.pool.nodes.ready").tag("cluster", "fleet").gauges()).isEmpty();
    assertThat(registry.find("ndif.cluster.gpus.pending").tag("cluster", "fleet").gauges())
        .isEmpty();
    assertThat(registry.find("ndif.pool.nodes.ready").tag("cluster", "other").gauges()).hasSize(1);
  }

  @Test
  void withoutACacheNothingIsForgotten() {
    metrics.cluster("ns", "fleet", status("a100"));
    metrics.deployment("ns", "a", "Running", null);

    metrics.forgetDeleted();

    assertThat(registry.find("ndif.pool.nodes.ready").gauges()).hasSize(1);
    assertThat(deployments("Running")).isEqualTo(1.0);
  }

  private double deployments(String reason) {
    return registry.get("ndif.deployments").tag("ready_reason", reason).gauge().value();
  }

  private static NdifClusterStatus status(String... pools) {
    var status = new NdifClusterStatus();
    for (String name : pools) {
      var pool = new NdifClusterStatus.PoolStatus();
      pool.name = name;
      pool.desiredNodes = 1;
      pool.readyNodes = 1;
      pool.gpus = 8;
      pool.allocatedGpus = 2.0;
      status.pools.add(pool);
    }
    status.totals = new NdifClusterStatus.Totals();
    status.totals.pendingGpus = 0.0;
    return status;
  }

  private static ConfigMap object(String namespace, String name) {
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withNamespace(namespace)
        .withName(name)
        .endMetadata()
        .build();
  }
}
