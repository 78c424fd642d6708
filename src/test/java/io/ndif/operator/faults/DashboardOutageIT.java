package io.ndif.operator.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalClusterExtension;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A Ray dashboard that stops answering (requests hang) for a while: the cluster says so, nothing in
 * the deployments' status is lost or flaps meanwhile, and it recovers by itself with no new PUT. 20
 * s by default; {@code -Dndif.faults.outageSeconds=120} for the two minutes of a real one.
 */
class DashboardOutageIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final int OUTAGE = Integer.getInteger("ndif.faults.outageSeconds", 20);
  private static FakeRayDashboard dashboard;

  @BeforeAll
  static void start() throws Exception {
    dashboard = new FakeRayDashboard();
    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 2, Duration.ZERO));
    cluster.createExternalCluster("quiet", dashboard.url(), 1);
    cluster.createDeployment(
        "tiny", "quiet", "model: {repoId: org/tiny, sizeBytes: 1Gi}\nreplicas: 2");
    cluster.awaitReady("tiny", 2, Duration.ofSeconds(60));
  }

  @AfterAll
  static void stop() {
    if (dashboard != null) {
      dashboard.close();
    }
  }

  @Test
  void aSilentDashboardIsAConditionAndNothingElseChanges() throws Exception {
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> "Serving".equals(Conditions.reason(clusterStatus().conditions, "GatewayReady")));
    var before = cluster.deployment("tiny").getStatus();
    int puts = dashboard.puts();

    dashboard.silence();
    Instant silenced = Instant.now();
    // One poll (5 s) and one request timeout (10 s) after the dashboard went quiet, with room.
    await()
        .atMost(Duration.ofSeconds(40))
        .pollInterval(Duration.ofMillis(500))
        .untilAsserted(
            () ->
                assertThat(Conditions.reason(clusterStatus().conditions, "ServeConfigApplied"))
                    .isEqualTo("DashboardUnreachable"));

    Instant until = silenced.plusSeconds(OUTAGE);
    while (Instant.now().isBefore(until)) {
      var status = clusterStatus();
      assertThat(Conditions.reason(status.conditions, "ServeConfigApplied"))
          .as("no flapping while the dashboard is silent")
          .isEqualTo("DashboardUnreachable");
      var deployment = cluster.deployment("tiny").getStatus();
      assertThat(deployment.placements).hasSize(2);
      assertThat(deployment.readyReplicas).isEqualTo(before.readyReplicas);
      assertThat(deployment.pool).isEqualTo(before.pool);
      assertThat(status.deployments)
          .singleElement()
          .satisfies(p -> assertThat(p.admitted).isTrue());
      Thread.sleep(1000);
    }

    dashboard.answer();
    await()
        .atMost(Duration.ofSeconds(40))
        .untilAsserted(
            () ->
                assertThat(Conditions.reason(clusterStatus().conditions, "ServeConfigApplied"))
                    .isEqualTo("Applied"));
    cluster.awaitReady("tiny", 2, Duration.ofSeconds(30));
    // The config Ray kept was still the applied one: nothing is PUT again.
    assertThat(dashboard.puts()).isEqualTo(puts);
  }

  private static NdifClusterStatus clusterStatus() {
    return cluster.ndifCluster("quiet").get().getStatus();
  }
}
