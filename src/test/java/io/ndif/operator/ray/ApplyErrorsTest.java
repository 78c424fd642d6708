package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import org.junit.jupiter.api.Test;

class ApplyErrorsTest {
  @Test
  void aMissingCrdSaysKubeRayIsNotInstalled() {
    var missing =
        new KubernetesClientException(
            new StatusBuilder().withCode(404).withMessage("not found").build());
    assertThat(ApplyErrors.describe(new RuntimeException("wrapped", missing), "RayCluster"))
        .isEqualTo(
            "the RayCluster could not be applied: KubeRay's CRDs are not installed (ray.io/v1 RayCluster not found)");
  }

  @Test
  void theServersMessageIsKept() {
    var invalid =
        new KubernetesClientException(
            new StatusBuilder()
                .withCode(422)
                .withMessage("RayService.ray.io \"x\" is invalid: spec")
                .build());
    assertThat(ApplyErrors.describe(invalid, "RayService"))
        .isEqualTo("the RayService could not be applied: RayService.ray.io \"x\" is invalid: spec");
  }
}
