package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.NdifOperator;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.testing.LocalClusterExtension;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Admission and placement of NdifDeployments on a two-pool cluster of the real control plane. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NdifDeploymentIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static NdifOperator operator;

  private static final String FLEET =
      """
      apiVersion: ndif.io/v1alpha1
      kind: NdifCluster
      metadata: {name: fleet}
      spec:
        head: {resources: {requests: {cpu: "1", memory: 2Gi}}}
        autoscaling: {mode: Operator}
        pools:
        - name: a100
          gpusPerNode: 8
          gpuMemory: 80Gi
          gpuProduct: NVIDIA-A100-SXM4-80GB
          nodes: 0
          maxNodes: 2
          tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
        - name: l4
          gpusPerNode: 8
          gpuMemory: 24Gi
          gpuProduct: NVIDIA-L4
          nodes: 0
          maxNodes: 2
          tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      """;

  @BeforeAll
  static void start() {
    operator = startOperator();
    cluster
        .client()
        .resource(Serialization.unmarshal(FLEET, NdifCluster.class))
        .inNamespace(cluster.namespace())
        .create();
  }

  private static NdifOperator startOperator() {
    // No minimum deployment time, so that preemption can be shown without waiting an hour.
    return cluster.startOperator(
        new OperatorSettings(Set.of(cluster.namespace()), 4, Duration.ZERO));
  }

  @Test
  @Order(1)
  void threeModelsArePlacedByBestFitAndThePoolsGrowToHoldThem() {
    cluster.createDeployment("small", "fleet", "model: {repoId: org/small, sizeBytes: 10Gi}");
    cluster.createDeployment(
        "llama", "fleet", "model: {repoId: meta-llama/Llama-3.1-8B, parameters: 8000000000}");
    cluster.createDeployment("big", "fleet", "model: {repoId: org/big, sizeBytes: 300Gi}");

    assertAdmitted("small", "l4", 0.42);
    assertAdmitted("llama", "l4", 0.74);
    assertAdmitted("big", "a100", 4.0);
    var small = cluster.deployment("small");
    assertThat(small.getStatus().modelKey)
        .isEqualTo(
            "nnsight.modeling.transformers.TransformersModel:{\"repo_id\": \"org/small\","
                + " \"revision\": null, \"task\": \"text-generation\"}");
    assertThat(small.getStatus().sizeBytes).isEqualTo(10L << 30);

    await()
        .atMost(Duration.ofSeconds(120))
        .untilAsserted(
            () -> {
              var status = fleet().getStatus();
              assertThat(status.pools)
                  .extracting(p -> p.name + ":" + p.desiredNodes + ":" + p.allocatedGpus)
                  .containsExactly("a100:1:4.0", "l4:1:1.16");
              assertThat(status.pools.get(1).admitted).containsExactlyInAnyOrder("small", "llama");
              assertThat(status.nodeSummary).isEqualTo("2/2");
            });
    assertThat(workerReplicas()).containsEntry("a100", 1).containsEntry("l4", 1);
  }

  @Test
  @Order(2)
  void aDeploymentBeyondCapacityWaitsThenIsAdmittedWhenRoomFrees() {
    cluster.createDeployment(
        "huge",
        "fleet",
        "model: {repoId: org/huge, sizeBytes: 600Gi}\nreplicas: 2\nplacement: {pool: a100}");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var scheduled = scheduled("huge");
              assertThat(scheduled.getStatus()).isEqualTo("False");
              assertThat(scheduled.getReason()).isEqualTo("InsufficientCapacity");
              assertThat(scheduled.getMessage())
                  .isEqualTo("needs 2 replicas x 8 x 80Gi GPUs in pool a100; 12 free of 16");
            });
    assertThat(fleet().getStatus().pools.get(0).pending).containsExactly("huge");

    cluster.ndifDeployment("big").delete();
    assertAdmitted("huge", "a100", 8.0);
    await()
        .atMost(Duration.ofSeconds(120))
        .until(() -> fleet().getStatus().pools.get(0).desiredNodes == 2);
    assertThat(eventReasons("huge")).contains("InsufficientCapacity", "Admitted");
  }

  @Test
  @Order(3)
  void aHigherPriorityPreemptsUnpinnedLowerOnesButNeverPinnedOnes() {
    cluster.editDeployment("huge", d -> d.getSpec().pinned = true);
    cluster.createDeployment(
        "urgent",
        "fleet",
        "model: {repoId: org/urgent, sizeBytes: 600Gi}\npriority: 10\nplacement: {pool: a100}");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> assertThat(scheduled("urgent").getReason()).isEqualTo("InsufficientCapacity"));
    assertThat(scheduled("huge").getStatus()).isEqualTo("True");

    cluster.editDeployment("huge", d -> d.getSpec().pinned = false);
    assertAdmitted("urgent", "a100", 8.0);
    var evicted = scheduled("huge");
    assertThat(evicted.getStatus()).isEqualTo("False");
    assertThat(evicted.getReason()).isEqualTo("Preempted");
    assertThat(evicted.getMessage()).contains("preempted by urgent (priority 10)");
    assertThat(eventReasons("huge")).contains("Preempted");
  }

  @Test
  @Order(4)
  void aRestartedOperatorMakesTheSamePlanAndWritesNothing() throws InterruptedException {
    Thread.sleep(3000);
    var before = fleet().getStatus().deployments;
    String fleetVersion = fleet().getMetadata().getResourceVersion();
    String hugeVersion = cluster.deployment("huge").getMetadata().getResourceVersion();
    operator.close();
    operator = startOperator();
    Thread.sleep(8000);
    assertThat(Serialization.asJson(fleet().getStatus().deployments))
        .isEqualTo(Serialization.asJson(before));
    assertThat(fleet().getMetadata().getResourceVersion()).isEqualTo(fleetVersion);
    assertThat(cluster.deployment("huge").getMetadata().getResourceVersion())
        .isEqualTo(hugeVersion);
  }

  @Test
  @Order(5)
  void thePreemptedDeploymentComesBackWhenThereIsRoom() {
    cluster.ndifDeployment("urgent").delete();
    assertAdmitted("huge", "a100", 8.0);
    assertThat(eventReasons("huge")).contains("Readmitted");
  }

  @Test
  @Order(6)
  void unknownSizesAndMissingClustersAreExplained() {
    cluster.createDeployment("mystery", "fleet", "model: {repoId: org/mystery}");
    var orphan =
        Serialization.unmarshal(
            "apiVersion: ndif.io/v1alpha1\nkind: NdifDeployment\nmetadata: {name: orphan}\nspec:\n  clusterRef: nowhere\n  model: {repoId: org/x, sizeBytes: 1Gi}\n",
            NdifDeployment.class);
    cluster.client().resource(orphan).inNamespace(cluster.namespace()).create();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(scheduled("mystery").getReason()).isEqualTo("SizeUnknown");
              assertThat(scheduled("mystery").getMessage())
                  .contains("spec.model.parameters or spec.model.sizeBytes");
              assertThat(scheduled("orphan").getReason()).isEqualTo("ClusterNotFound");
            });
  }

  @Test
  @Order(7)
  void aScheduleWindowPinsItsDeploymentAndItsEndIsActedOnWhenItComes() {
    var opens =
        java.time.Instant.now().plusSeconds(5).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    var closes = opens.plusSeconds(30);
    cluster.editDeployment(
        "huge",
        d -> {
          var window = new io.ndif.operator.api.ScheduleWindowSpec();
          window.name = "workshop";
          window.start = opens.toString();
          window.end = closes.toString();
          var schedule = new io.ndif.operator.api.ScheduleSpec();
          schedule.windows = List.of(window);
          d.getSpec().schedule = schedule;
        });
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              var status = cluster.deployment("huge").getStatus();
              assertThat(status.pinned).isTrue();
              assertThat(status.schedule.current.end).isEqualTo(closes.toString());
              assertThat(eventReasons("huge")).contains("WindowOpened");
            });
    cluster.createDeployment(
        "rival",
        "fleet",
        "model: {repoId: org/rival, sizeBytes: 600Gi}\npriority: 10\nplacement: {pool: a100}");
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> assertThat(scheduled("rival").getReason()).isEqualTo("InsufficientCapacity"));
    assertThat(scheduled("huge").getStatus()).isEqualTo("True");

    // Nothing changes when the window closes but the time: the operator acts on the edge
    // itself, well before the minute after which a waiting deployment is looked at again.
    await()
        .atMost(Duration.between(java.time.Instant.now(), closes).plusSeconds(20))
        .untilAsserted(
            () -> {
              assertThat(scheduled("rival").getStatus()).isEqualTo("True");
              assertThat(scheduled("huge").getReason()).isEqualTo("Preempted");
              var status = cluster.deployment("huge").getStatus();
              assertThat(status.pinned).isFalse();
              assertThat(status.schedule).isNull();
              assertThat(eventReasons("huge")).contains("WindowClosed");
            });
  }

  private static void assertAdmitted(String name, String pool, double gpus) {
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var d = cluster.deployment(name);
              assertThat(d.getStatus()).isNotNull();
              assertThat(Conditions.isTrue(d.getStatus().conditions, "Scheduled")).isTrue();
              assertThat(d.getStatus().pool).isEqualTo(pool);
              assertThat(d.getStatus().gpusPerReplica).isEqualTo(gpus);
            });
  }

  private static io.fabric8.kubernetes.api.model.Condition scheduled(String name) {
    var d = cluster.deployment(name);
    assertThat(d.getStatus()).isNotNull();
    return Conditions.find(d.getStatus().conditions, "Scheduled").orElseThrow();
  }

  private static NdifCluster fleet() {
    return cluster.ndifCluster("fleet").get();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> workerReplicas() {
    GenericKubernetesResource ray =
        cluster
            .client()
            .genericKubernetesResources(KubeRay.API_VERSION, "RayCluster")
            .inNamespace(cluster.namespace())
            .withName("fleet")
            .get();
    var spec = (Map<String, Object>) ray.getAdditionalProperties().get("spec");
    var result = new java.util.LinkedHashMap<String, Object>();
    for (var g : (List<Map<String, Object>>) spec.get("workerGroupSpecs")) {
      result.put((String) g.get("groupName"), g.get("replicas"));
    }
    return result;
  }

  private static List<String> eventReasons(String name) {
    return cluster.events().stream()
        .filter(
            e ->
                name.equals(e.getInvolvedObject().getName())
                    && "NdifDeployment".equals(e.getInvolvedObject().getKind()))
        .map(Event::getReason)
        .toList();
  }
}
