package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterEventsTest {
  @Test
  void firstObservationOfTheRayClusterAndReadinessAreEvents() {
    var after = status("fleet", 2, true, false, null);
    assertThat(ClusterEvents.between(null, after))
        .extracting(ClusterEvents.Event::reason)
        .containsExactly("RayClusterCreated", "Ready");
  }

  @Test
  void anUnchangedStatusIsNoEvent() {
    var before = status("fleet", 2, true, false, null);
    assertThat(ClusterEvents.between(before, status("fleet", 2, true, false, null))).isEmpty();
  }

  @Test
  void scalingDegradationAndLossOfReadinessAreEvents() {
    var before = status("fleet", 2, true, false, null);
    var after = status("fleet", 3, false, true, "PoolUnschedulable");
    var events = ClusterEvents.between(before, after);
    assertThat(events)
        .extracting(e -> e.type() + ":" + e.reason())
        .containsExactly("Normal:PoolScaled", "Warning:PoolUnschedulable", "Warning:NodesNotReady");
    assertThat(events.get(0).message()).isEqualTo("pool a100: 2 -> 3 nodes");
    // The same degradation seen again is not repeated.
    assertThat(ClusterEvents.between(after, status("fleet", 3, false, true, "PoolUnschedulable")))
        .isEmpty();
  }

  @Test
  void theGatewayTurningReadyAndAuthTurningOffAreEventsOnce() {
    var before = status("fleet", 2, true, false, null);
    var after = status("fleet", 2, true, false, null);
    after.conditions =
        new Conditions(after.conditions, 1L, Clock.systemUTC())
            .keep(after.conditions)
            .set("GatewayReady", true, "Serving", "NDIF's API is served at http://x:8000")
            .set("GatewayAuthDisabled", true, "AuthNone", "anyone who reaches http://x:8000")
            .set("GatewayContainmentDisabled", true, "Everyone", "every caller of http://x:8000")
            .build();
    var events = ClusterEvents.between(before, after);
    assertThat(events)
        .extracting(ClusterEvents.Event::reason, e -> e.type().name(), ClusterEvents.Event::message)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple(
                "GatewayReady", "Normal", "NDIF's API is served at http://x:8000"),
            org.assertj.core.groups.Tuple.tuple(
                "GatewayAuthDisabled", "Warning", "anyone who reaches http://x:8000"),
            org.assertj.core.groups.Tuple.tuple(
                "GatewayContainmentDisabled", "Warning", "every caller of http://x:8000"));
    assertThat(ClusterEvents.between(after, after)).isEmpty();
  }

  private static NdifClusterStatus status(
      String rayCluster, int desired, boolean ready, boolean degraded, String degradedReason) {
    var status = new NdifClusterStatus();
    status.rayClusterName = rayCluster;
    var pool = new NdifClusterStatus.PoolStatus();
    pool.name = "a100";
    pool.desiredNodes = desired;
    status.pools = List.of(pool);
    status.conditions =
        new Conditions(null, 1L, Clock.systemUTC())
            .set("Ready", ready, ready ? "AllNodesReady" : "NodesNotReady", "m")
            .set("Degraded", degraded, degraded ? degradedReason : "Healthy", "why")
            .build();
    return status;
  }
}
