package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.testing.LocalClusterExtension;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A Dedicated deployment becomes a RayService that KubeRay turns into pods on fake GPU nodes. */
class DedicatedIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();

  @BeforeAll
  static void start() {
    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 4));
  }

  @Test
  void aDedicatedDeploymentRunsOnItsOwnRayService() {
    String yaml =
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifDeployment
        metadata: {name: solo}
        spec:
          isolation: Dedicated
          model: {repoId: org/solo, sizeBytes: 100Gi}
          dedicated:
            upgradeStrategy: None
            pool:
              name: a100
              gpusPerNode: 8
              gpuMemory: 80Gi
              gpuProduct: NVIDIA-A100-SXM4-80GB
              nodes: 1
              tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
        """;
    cluster
        .client()
        .resource(Serialization.unmarshal(yaml, NdifDeployment.class))
        .inNamespace(cluster.namespace())
        .create();

    var services =
        cluster
            .client()
            .genericKubernetesResources(KubeRay.API_VERSION, "RayService")
            .inNamespace(cluster.namespace());
    await().atMost(Duration.ofSeconds(60)).until(() -> services.withName("solo").get() != null);
    GenericKubernetesResource service = services.withName("solo").get();
    assertThat(service.getMetadata().getOwnerReferences())
        .anyMatch(o -> o.getKind().equals("NdifDeployment"));
    @SuppressWarnings("unchecked")
    var spec = (Map<String, Object>) service.getAdditionalProperties().get("spec");
    assertThat((String) spec.get("serveConfigV2"))
        .contains("ndif_pool_a100")
        .contains("num_gpus: 2.0")
        .contains("name: \"solo\"");
    assertThat(spec.get("upgradeStrategy")).isEqualTo(Map.of("type", "None"));

    // KubeRay builds the RayService's cluster; the scheduler puts its GPU worker on an A100 node.
    await()
        .atMost(Duration.ofSeconds(120))
        .untilAsserted(
            () -> {
              var workers =
                  cluster
                      .client()
                      .pods()
                      .inNamespace(cluster.namespace())
                      .withLabel("ray.io/node-type", "worker")
                      .withLabel("ndif.io/deployment", "solo")
                      .list()
                      .getItems();
              assertThat(workers).hasSize(1);
              assertThat(workers.get(0).getSpec().getNodeName()).startsWith("kwok-a100-");
              assertThat(workers.get(0).getStatus().getPhase()).isEqualTo("Running");
            });

    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var status = get().getStatus();
              assertThat(status.rayServiceName).isEqualTo("solo");
              assertThat(status.gpusPerReplica).isEqualTo(2.0);
              assertThat(Conditions.reason(status.conditions, "Scheduled")).isEqualTo("Dedicated");
              // Its own NDIF gateway, on the RayService's serve Service.
              assertThat(status.ndifHost)
                  .isEqualTo("http://solo-serve-svc." + cluster.namespace() + ".svc:8000");
              // No real Ray answers KubeRay here, so the service never turns ready; status says
              // why.
              assertThat(Conditions.isTrue(status.conditions, "Ready")).isFalse();
              assertThat(Conditions.reason(status.conditions, "Ready")).startsWith("RayService");
              // Its worker pod, on the A100 node the scheduler chose, is in the placements.
              assertThat(status.placements)
                  .singleElement()
                  .satisfies(
                      p -> {
                        assertThat(p.nodeName).startsWith("kwok-a100-");
                        assertThat(p.state).isEqualTo("PodReady");
                        assertThat(p.pool).isEqualTo("a100");
                      });
            });

    cluster.ndifDeployment("solo").delete();
    await().atMost(Duration.ofSeconds(120)).until(() -> services.withName("solo").get() == null);
  }

  private static NdifDeployment get() {
    return cluster.ndifDeployment("solo").get();
  }
}
