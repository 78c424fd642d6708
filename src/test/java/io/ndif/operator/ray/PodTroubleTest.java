package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import org.junit.jupiter.api.Test;

class PodTroubleTest {
  @Test
  void aPodWithoutStatusOrStillStartingHasNoTrouble() {
    assertThat(PodTrouble.of(new PodBuilder().withNewMetadata().endMetadata().build())).isEmpty();
    assertThat(PodTrouble.of(pod(waiting("ray", "ContainerCreating", null), false))).isEmpty();
    assertThat(PodTrouble.of(pod(waiting("ray", "PodInitializing", null), true))).isEmpty();
  }

  @Test
  void aFailingInitContainerIsNamed() {
    var trouble =
        PodTrouble.of(pod(waiting("wait-gcs-ready", "CrashLoopBackOff", "back-off"), true));
    assertThat(trouble).isPresent();
    assertThat(trouble.get().kind()).isEqualTo(PodTrouble.Kind.FAILING);
    assertThat(trouble.get().reason()).isEqualTo("CrashLoopBackOff");
    assertThat(trouble.get().message())
        .isEqualTo("container wait-gcs-ready: CrashLoopBackOff: back-off");
  }

  @Test
  void aLongMessageIsCapped() {
    var trouble =
        PodTrouble.of(pod(waiting("ray", "CreateContainerConfigError", "x".repeat(5000)), false));
    assertThat(trouble.get().message()).hasSize(PodTrouble.MAX_MESSAGE).endsWith("…");
  }

  @Test
  void aPodBeingDeletedIsNotReady() {
    var pod =
        new PodBuilder()
            .withNewMetadata()
            .withDeletionTimestamp("2026-01-01T00:00:00Z")
            .endMetadata()
            .withNewStatus()
            .addNewCondition()
            .withType("Ready")
            .withStatus("True")
            .endCondition()
            .endStatus()
            .build();
    assertThat(PodTrouble.isReady(pod)).isFalse();
    pod.getMetadata().setDeletionTimestamp(null);
    assertThat(PodTrouble.isReady(pod)).isTrue();
  }

  private static ContainerStatus waiting(String name, String reason, String message) {
    return new ContainerStatusBuilder()
        .withName(name)
        .withNewState()
        .withNewWaiting()
        .withReason(reason)
        .withMessage(message)
        .endWaiting()
        .endState()
        .build();
  }

  private static Pod pod(ContainerStatus status, boolean init) {
    var builder = new PodBuilder().withNewMetadata().withName("p").endMetadata().withNewStatus();
    return (init
            ? builder.withInitContainerStatuses(status)
            : builder.withContainerStatuses(status))
        .endStatus()
        .build();
  }
}
