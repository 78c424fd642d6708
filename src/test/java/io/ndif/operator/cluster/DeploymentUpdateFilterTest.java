package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentStatus;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeploymentUpdateFilterTest {
  @Test
  void aStatusWriteDoesNotReplanTheCluster() {
    var before = deployment(1L, Map.of());
    var after = deployment(1L, Map.of());
    after.setStatus(new NdifDeploymentStatus());
    after.getStatus().replicaSummary = "1/1";
    assertThat(NdifClusterReconciler.specOrMetadataChanged(after, before)).isFalse();
  }

  @Test
  void aNewGenerationOrNewLabelsDo() {
    var before = deployment(1L, Map.of());
    assertThat(NdifClusterReconciler.specOrMetadataChanged(deployment(2L, Map.of()), before))
        .isTrue();
    assertThat(
            NdifClusterReconciler.specOrMetadataChanged(deployment(1L, Map.of("a", "b")), before))
        .isTrue();
  }

  private static NdifDeployment deployment(long generation, Map<String, String> labels) {
    var d = new NdifDeployment();
    d.setMetadata(
        new ObjectMetaBuilder()
            .withName("d")
            .withNamespace("ns")
            .withGeneration(generation)
            .withLabels(labels)
            .build());
    return d;
  }
}
