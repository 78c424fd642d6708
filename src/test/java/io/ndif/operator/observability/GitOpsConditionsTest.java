package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GitOpsConditionsTest {
  @ParameterizedTest(name = "Ready={0}/{1}, Progressing={2}, Degraded={3}")
  @CsvSource({
    // ready, readyReason, progressing, degraded, reconciling, stalled, reason of the True one
    "True,  Running,              False, False, False, False, ''",
    "True,  AllNodesReady,        True,  False, True,  False, ScalingPools",
    "False, ReplicasStarting,     True,  False, True,  False, ScalingPools",
    "False, InsufficientCapacity, False, False, True,  False, InsufficientCapacity",
    "False, ModelTooLarge,        False, False, False, True,  ModelTooLarge",
    "False, DeployFailed,         False, True,  False, True,  Broken",
    "True,  Running,              False, True,  False, True,  Broken",
    "Unknown, DashboardUnreachable, False, False, True, False, DashboardUnreachable",
  })
  void kstatusConditionsFollowReadyProgressingAndDegraded(
      String ready,
      String readyReason,
      boolean progressing,
      boolean degraded,
      String reconciling,
      String stalled,
      String reason) {
    var conditions =
        new Conditions(null, 1L, Clock.systemUTC())
            .set("Ready", ready, readyReason, "ready says")
            .set("Progressing", progressing, "ScalingPools", "progressing says")
            .set("Degraded", degraded, degraded ? "Broken" : "Healthy", "degraded says");

    GitOpsConditions.derive(conditions, Set.of("ModelTooLarge"));

    var built = conditions.build();
    var isReconciling = Conditions.find(built, "Reconciling").orElseThrow();
    var isStalled = Conditions.find(built, "Stalled").orElseThrow();
    assertThat(isReconciling.getStatus()).isEqualTo(reconciling);
    assertThat(isStalled.getStatus()).isEqualTo(stalled);
    if ("True".equals(reconciling)) {
      assertThat(isReconciling.getReason()).isEqualTo(reason);
    }
    if ("True".equals(stalled)) {
      assertThat(isStalled.getReason()).isEqualTo(reason);
    }
  }
}
