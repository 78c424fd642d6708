package io.ndif.operator.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.OperatorCrds;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Proves the local control plane is real: scheduling, kwok, KubeRay, GC, SSA and CEL. */
class ControlPlaneIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();

  private static final ResourceDefinitionContext RAY_CLUSTER =
      new ResourceDefinitionContext.Builder()
          .withGroup("ray.io")
          .withVersion("v1")
          .withKind("RayCluster")
          .withPlural("rayclusters")
          .withNamespaced(true)
          .build();
  private static final String A100 = "NVIDIA-A100-SXM4-80GB";

  @Test
  void apiServerReportsItsRealVersion() {
    var version = cluster.client().getKubernetesVersion();
    assertThat(version.getGitVersion()).matches("v1\\.\\d+\\.\\d+");
    assertThat(version.getMajor()).isEqualTo("1");
  }

  @Test
  void fakeGpuNodesAreReadyWithTheirCapacity() {
    List<Node> gpuNodes =
        cluster.client().nodes().withLabel("nvidia.com/gpu.product", A100).list().getItems();
    assertThat(gpuNodes).isNotEmpty();
    for (Node node : gpuNodes) {
      assertThat(node.getStatus().getAllocatable().get("nvidia.com/gpu").getAmount())
          .isEqualTo("8");
      assertThat(node.getMetadata().getLabels()).containsEntry("nvidia.com/gpu.memory", "81920");
      assertThat(node.getStatus().getConditions())
          .anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True"));
    }
  }

  @Test
  void kubeRayRunsWorkersOnlyOnMatchingGpuNodesWithoutOvercommit() throws Exception {
    var client = cluster.client();
    String ns = cluster.namespace();
    var rayCluster =
        Serialization.unmarshal(
            getClass().getResourceAsStream("/controlplane/raycluster-gpu.yaml"),
            GenericKubernetesResource.class);
    client.genericKubernetesResources(RAY_CLUSTER).inNamespace(ns).resource(rayCluster).create();

    int a100Nodes =
        client.nodes().withLabel("nvidia.com/gpu.product", A100).list().getItems().size();
    int expectedRunning = Math.min(3, a100Nodes);
    await()
        .atMost(Duration.ofSeconds(120))
        .untilAsserted(
            () -> {
              List<Pod> workers = workers(ns);
              assertThat(workers).hasSize(3);
              assertThat(workers.stream().filter(ControlPlaneIT::isReady)).hasSize(expectedRunning);
            });

    List<Pod> workers = workers(ns);
    Map<String, Integer> gpusPerNode = new HashMap<>();
    for (Pod pod : workers) {
      String nodeName = pod.getSpec().getNodeName();
      if (nodeName == null) {
        assertThat(pod.getStatus().getConditions())
            .anyMatch(
                c -> c.getType().equals("PodScheduled") && "Unschedulable".equals(c.getReason()));
        continue;
      }
      Node node = client.nodes().withName(nodeName).get();
      assertThat(node.getMetadata().getLabels()).containsEntry("nvidia.com/gpu.product", A100);
      gpusPerNode.merge(nodeName, 8, Integer::sum);
    }
    assertThat(gpusPerNode.values()).allMatch(gpus -> gpus <= 8);
    assertThat(gpusPerNode).hasSize(expectedRunning);

    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var status =
                  status(
                      client
                          .genericKubernetesResources(RAY_CLUSTER)
                          .inNamespace(ns)
                          .withName("smoke")
                          .get());
              assertThat(status).containsEntry("readyWorkerReplicas", expectedRunning);
            });

    // Deleting the RayCluster removes its pods and services through the garbage collector.
    client.genericKubernetesResources(RAY_CLUSTER).inNamespace(ns).withName("smoke").delete();
    await()
        .atMost(Duration.ofSeconds(120))
        .untilAsserted(
            () -> {
              assertThat(
                      client
                          .pods()
                          .inNamespace(ns)
                          .withLabel("ray.io/cluster", "smoke")
                          .list()
                          .getItems())
                  .isEmpty();
              assertThat(
                      client
                          .services()
                          .inNamespace(ns)
                          .withLabel("ray.io/cluster", "smoke")
                          .list()
                          .getItems())
                  .isEmpty();
            });
  }

  @Test
  void serverSideApplyReportsConflictsBetweenFieldManagers() {
    var client = cluster.client();
    var configMap =
        new ConfigMapBuilder()
            .withNewMetadata()
            .withName("owned")
            .withNamespace(cluster.namespace())
            .endMetadata()
            .addToData("replicas", "1")
            .build();
    client.configMaps().resource(configMap).patch(apply("manager-a", false), configMap);

    var other = new ConfigMapBuilder(configMap).withData(Map.of("replicas", "2")).build();
    assertThatThrownBy(
            () -> client.configMaps().resource(other).patch(apply("manager-b", false), other))
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409))
        .hasMessageContaining("conflict");

    client.configMaps().resource(other).patch(apply("manager-b", true), other);
    assertThat(
            client.configMaps().inNamespace(cluster.namespace()).withName("owned").get().getData())
        .containsEntry("replicas", "2");
  }

  @Test
  void celRuleRejectsABadObjectWithItsMessage() {
    var client = cluster.client();
    var crd =
        client
            .apiextensions()
            .v1()
            .customResourceDefinitions()
            .load(getClass().getResourceAsStream("/controlplane/widgets-crd.yaml"))
            .item();
    client.apiextensions().v1().customResourceDefinitions().resource(crd).serverSideApply();
    client
        .apiextensions()
        .v1()
        .customResourceDefinitions()
        .withName("widgets.smoke.ndif.io")
        .waitUntilCondition(OperatorCrds::established, 30, TimeUnit.SECONDS);
    var widgets =
        client
            .genericKubernetesResources("smoke.ndif.io/v1", "Widget")
            .inNamespace(cluster.namespace());
    var bad = new GenericKubernetesResource();
    bad.setApiVersion("smoke.ndif.io/v1");
    bad.setKind("Widget");
    bad.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName("bad").build());
    bad.setAdditionalProperty("spec", Map.of("min", 5, "max", 1));
    assertThatThrownBy(() -> widgets.resource(bad).create())
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(422))
        .hasMessageContaining("min must not exceed max");

    bad.setAdditionalProperty("spec", Map.of("min", 1, "max", 5));
    assertThat(widgets.resource(bad).create().getMetadata().getUid()).isNotNull();
    client
        .apiextensions()
        .v1()
        .customResourceDefinitions()
        .withName("widgets.smoke.ndif.io")
        .delete();
  }

  private static PatchContext apply(String manager, boolean force) {
    return new PatchContext.Builder()
        .withPatchType(PatchType.SERVER_SIDE_APPLY)
        .withFieldManager(manager)
        .withForce(force)
        .build();
  }

  private static List<Pod> workers(String ns) {
    return cluster
        .client()
        .pods()
        .inNamespace(ns)
        .withLabel("ray.io/cluster", "smoke")
        .withLabel("ray.io/node-type", "worker")
        .list()
        .getItems();
  }

  static boolean isReady(Pod pod) {
    return pod.getStatus() != null
        && "Running".equals(pod.getStatus().getPhase())
        && pod.getStatus().getConditions() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> status(GenericKubernetesResource resource) {
    return resource == null
        ? Map.of()
        : (Map<String, Object>)
            Objects.requireNonNullElse(resource.getAdditionalProperties().get("status"), Map.of());
  }
}
