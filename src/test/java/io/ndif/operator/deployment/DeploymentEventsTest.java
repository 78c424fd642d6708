package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.observability.Conditions;
import java.time.Clock;
import org.junit.jupiter.api.Test;

class DeploymentEventsTest {
  private static final String ADMISSION = "admitted to pool a100: 1 x 80Gi GPU";

  @Test
  void admittedAndReadyInOneObservationIsOneEvent() {
    var events = DeploymentEvents.between(null, status(true, true));
    assertThat(events).extracting(DeploymentEvents.Event::reason).containsExactly("Admitted");
    assertThat(events.get(0).message()).isEqualTo(ADMISSION + "; ready: 1 replica(s) running");
  }

  @Test
  void admittedThenReadyLaterAreTwoEvents() {
    var admitted = status(true, false);
    assertThat(DeploymentEvents.between(null, admitted))
        .extracting(DeploymentEvents.Event::reason, DeploymentEvents.Event::message)
        .containsExactly(org.assertj.core.groups.Tuple.tuple("Admitted", ADMISSION));
    assertThat(DeploymentEvents.between(admitted, status(true, true)))
        .extracting(DeploymentEvents.Event::reason)
        .containsExactly("Ready");
  }

  @Test
  void anUnchangedReadyDeploymentIsNoEvent() {
    assertThat(DeploymentEvents.between(status(true, true), status(true, true))).isEmpty();
  }

  @Test
  void waitingIsAWarningOnceByReason() {
    var waiting = status(false, false);
    assertThat(DeploymentEvents.between(null, waiting))
        .extracting(e -> e.type() + ":" + e.reason())
        .containsExactly("Warning:InsufficientCapacity");
    assertThat(DeploymentEvents.between(waiting, status(false, false))).isEmpty();
  }

  private static NdifDeploymentStatus status(boolean admitted, boolean ready) {
    var status = new NdifDeploymentStatus();
    status.conditions =
        new Conditions(null, 1L, Clock.systemUTC())
            .set(
                DeploymentStatusBuilder.SCHEDULED,
                admitted,
                admitted ? "Admitted" : "InsufficientCapacity",
                admitted ? ADMISSION : "needs 1 x 80Gi GPU in pool a100; 0 free of 8")
            .set(
                DeploymentStatusBuilder.READY,
                ready,
                ready ? "Running" : "Pending",
                ready ? "1 replica(s) running" : "waiting for replicas")
            .build();
    return status;
  }
}
