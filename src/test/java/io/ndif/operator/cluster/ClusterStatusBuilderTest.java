package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.ServeDashboard;
import io.ndif.operator.testing.Fixtures;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ClusterStatusBuilderTest {
  private static final Clock T0 =
      Clock.fixed(Instant.parse("2026-01-01T00:00:00Z"), ZoneOffset.UTC);
  private static final Clock T1 =
      Clock.fixed(Instant.parse("2026-01-01T01:00:00Z"), ZoneOffset.UTC);
  private static final Map<String, Node> NODES =
      Map.of(
          "gpu-0",
          node("gpu-0", "NVIDIA-A100-SXM4-80GB"),
          "gpu-1",
          node("gpu-1", "NVIDIA-A100-SXM4-80GB"),
          "l4-0",
          node("l4-0", "NVIDIA-L4"));

  private final NdifCluster cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS);
  private final GenericKubernetesResource rayCluster = new GenericKubernetesResource();

  @Test
  void everyWorkerIsListedWithItsNodeGpusAndProduct() {
    var status = build(T0, cluster, allReady());
    assertThat(status.rayClusterName).isEqualTo("fleet");
    assertThat(status.dashboardUrl).isEqualTo("http://fleet-head-svc.ns.svc:8265");
    assertThat(status.serveUrl).isEqualTo("http://fleet-head-svc.ns.svc:8000");
    assertThat(status.head.pod).isEqualTo("fleet-head");
    assertThat(status.head.ready).isTrue();
    assertThat(status.nodes).hasSize(3);
    var first = status.nodes.get(0);
    assertThat(first.pod).isEqualTo("fleet-a100-0");
    assertThat(first.nodeName).isEqualTo("gpu-0");
    assertThat(first.pool).isEqualTo("a100");
    assertThat(first.gpus).isEqualTo(8);
    assertThat(first.gpuProduct).isEqualTo("NVIDIA-A100-SXM4-80GB");
    assertThat(first.ready).isTrue();
    assertThat(first.phase).isEqualTo("Running");
    assertThat(status.pools)
        .extracting(
            p ->
                p.name
                    + ":"
                    + p.readyNodes
                    + "/"
                    + p.desiredNodes
                    + ":"
                    + p.gpus
                    + ":"
                    + p.gpuMemory)
        .containsExactly("a100:2/2:16:80Gi", "l4:1/1:4:24Gi");
    assertThat(status.totals.gpus).isEqualTo(20);
    assertThat(status.nodeSummary).isEqualTo("3/3");
    assertThat(reason(status, "Ready")).isEqualTo("AllNodesReady");
    assertThat(Conditions.isTrue(status.conditions, "Ready")).isTrue();
    assertThat(Conditions.isTrue(status.conditions, "Progressing")).isFalse();
    assertThat(Conditions.isTrue(status.conditions, "Degraded")).isFalse();
    assertThat(status.observedGeneration).isEqualTo(1L);
  }

  @Test
  void aWorkerNotYetReadyMakesTheClusterProgressing() {
    var pods = allReady();
    pods.set(3, worker("fleet-l4-0", "l4", null, false, 4));
    var status = build(T0, cluster, pods);
    assertThat(reason(status, "Ready")).isEqualTo("NodesNotReady");
    assertThat(Conditions.find(status.conditions, "Ready").get().getMessage())
        .contains("pool l4: 0/1");
    assertThat(Conditions.isTrue(status.conditions, "Progressing")).isTrue();
    assertThat(status.nodeSummary).isEqualTo("2/3");
  }

  @Test
  void anUnschedulableWorkerMakesTheClusterDegradedNamingThePool() {
    var pods = allReady();
    pods.set(
        3,
        unschedulable(
            worker("fleet-l4-0", "l4", null, false, 4),
            "0/6 nodes are available: 6 node(s) didn't match Pod's node affinity/selector."));
    var status = build(T0, cluster, pods);
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("PoolUnschedulable");
    assertThat(degraded.getMessage())
        .startsWith("pool l4: 1 worker pod(s) cannot be scheduled: 0/6 nodes");
  }

  @Test
  void headNotReadyAndMissingRayClusterHaveTheirOwnReasons() {
    var pods = allReady();
    pods.set(0, head(false));
    assertThat(reason(build(T0, cluster, pods), "Ready")).isEqualTo("HeadNotReady");
    var none =
        new ClusterStatusBuilder(T0)
            .build(cluster, new ClusterObservation(null, List.of(), Map.of(), null, null));
    assertThat(reason(none, "Ready")).isEqualTo("RayClusterPending");
    assertThat(none.rayClusterName).isNull();
  }

  @Test
  void aTemplateConflictIsDegradedFirstAndStopsCreation() {
    var conflicts = List.of("pools[l4].template spec.containers[ray-worker].image: ...");
    var none =
        new ClusterStatusBuilder(T0)
            .build(
                cluster,
                new ClusterObservation(
                    null, List.of(), Map.of(), null, null, null, conflicts, List.of()));
    assertThat(reason(none, "Ready")).isEqualTo("PodTemplateConflict");
    assertThat(reason(none, "Progressing")).isEqualTo("PodTemplateConflict");
    var degraded = Conditions.find(none.conditions, "Degraded").get();
    assertThat(degraded.getReason()).isEqualTo("PodTemplateConflict");
    assertThat(degraded.getMessage())
        .isEqualTo(
            "the RayCluster is left as it is until the template override is fixed: "
                + conflicts.get(0));
  }

  @Test
  void anUnschedulableHeadIsDegradedAndNamedInReady() {
    var pods = allReady();
    pods.set(0, unschedulable(head(false), "0/6 nodes are available: 6 Insufficient cpu."));
    var status = build(T0, cluster, pods);
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("HeadUnschedulable");
    assertThat(degraded.getMessage())
        .isEqualTo(
            "the Ray head pod cannot be scheduled: 0/6 nodes are available: 6 Insufficient cpu.");
    var ready = Conditions.find(status.conditions, "Ready").get();
    assertThat(ready.getReason()).isEqualTo("HeadNotReady");
    assertThat(ready.getMessage()).startsWith("the Ray head pod is not ready (Unschedulable); ");
  }

  @Test
  void aWorkerThatCannotPullItsImageIsDegradedNamingPoolContainerAndCause() {
    var pods = allReady();
    pods.set(
        1,
        failing(
            worker("fleet-a100-0", "a100", "gpu-0", false, 8),
            "ImagePullBackOff",
            "Back-off pulling image \"ray:typo\"",
            null));
    var degraded = Conditions.find(build(T0, cluster, pods).conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("WorkerPodsFailing");
    assertThat(degraded.getMessage())
        .isEqualTo(
            "pool a100: 1 worker pod(s) failing: container ray: ImagePullBackOff: Back-off pulling image \"ray:typo\"");
  }

  @Test
  void everyProblemIsInTheMessageAndTheFirstGivesTheReason() {
    var pods = allReady();
    pods.set(
        0, failing(head(false), "CrashLoopBackOff", "back-off 40s restarting failed container", 1));
    pods.set(
        3, unschedulable(worker("fleet-l4-0", "l4", null, false, 4), "0/6 nodes are available"));
    var status = build(T0, cluster, pods);
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getReason()).isEqualTo("HeadPodFailing");
    assertThat(degraded.getMessage())
        .isEqualTo(
            "the Ray head pod is failing: container ray: CrashLoopBackOff: back-off 40s restarting"
                + " failed container (last exit code 1, Error); pool l4: 1 worker pod(s) cannot be"
                + " scheduled: 0/6 nodes are available");
    assertThat(Conditions.find(status.conditions, "Ready").get().getMessage())
        .startsWith("the Ray head pod is not ready (CrashLoopBackOff); ");
  }

  @Test
  void kubeRaysReplicaFailureIsDegraded() {
    rayCluster.setAdditionalProperty(
        "status",
        Map.of(
            "conditions",
            List.of(
                Map.of(
                    "type", "ReplicaFailure",
                    "status", "True",
                    "reason", "FailedCreateWorkerPod",
                    "message", "pods \"fleet-a100-x\" is forbidden: exceeded quota"))));
    var degraded = Conditions.find(build(T0, cluster, allReady()).conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("RayClusterReplicaFailure");
    assertThat(degraded.getMessage())
        .isEqualTo(
            "KubeRay: FailedCreateWorkerPod: pods \"fleet-a100-x\" is forbidden: exceeded quota");
  }

  @Test
  void aHealthyClusterIsNotDegraded() {
    var degraded = Conditions.find(build(T0, cluster, allReady()).conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("False");
    assertThat(degraded.getReason()).isEqualTo("Healthy");
  }

  @Test
  void anApplyErrorIsDegradedWithTheServersMessage() {
    var status =
        new ClusterStatusBuilder(T0)
            .build(
                cluster,
                new ClusterObservation(
                    null,
                    List.of(),
                    Map.of(),
                    "the RayCluster could not be applied: denied",
                    null));
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getReason()).isEqualTo("RayClusterApplyFailed");
    assertThat(degraded.getMessage()).contains("denied");
  }

  @Test
  void kubeRaysStandingWarningIsDegradedWithItsReason() {
    var status =
        new ClusterStatusBuilder(T0)
            .build(
                cluster,
                new ClusterObservation(
                    null,
                    List.of(),
                    Map.of(),
                    null,
                    null,
                    null,
                    List.of(),
                    List.of(
                        new io.ndif.operator.ray.KubeRayWarnings.Warning(
                            "InvalidRayClusterSpec", "RAY_REDIS_ADDRESS is set"))));
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("InvalidRayClusterSpec");
    assertThat(degraded.getMessage())
        .isEqualTo("KubeRay: InvalidRayClusterSpec: RAY_REDIS_ADDRESS is set");
  }

  @Test
  void lastTransitionTimeChangesOnlyWhenTheStatusFlips() {
    var first = build(T0, cluster, allReady());
    cluster.setStatus(first);
    var again = build(T1, cluster, allReady());
    assertThat(again.conditions).isEqualTo(first.conditions);

    var pods = allReady();
    pods.set(2, worker("fleet-a100-1", "a100", "gpu-1", false, 8));
    var flipped = build(T1, cluster, pods);
    assertThat(Conditions.find(flipped.conditions, "Ready").get().getLastTransitionTime())
        .isEqualTo("2026-01-01T01:00:00Z");
    assertThat(Conditions.find(flipped.conditions, "Degraded").get().getLastTransitionTime())
        .isEqualTo("2026-01-01T00:00:00Z");
  }

  @Test
  void surplusWorkersBeingRemovedKeepTheClusterReadyButProgressing() {
    var scaledDown =
        Fixtures.cluster("fleet", Fixtures.TWO_POOLS.replace("nodes: 2\n", "nodes: 1\n"));
    var status = build(T0, scaledDown, allReady());
    assertThat(status.pools.get(0).desiredNodes).isEqualTo(1);
    assertThat(reason(status, "Progressing")).isEqualTo("RemovingNodes");
  }

  @Test
  void anExternalClusterCountsItsPoolsForAccountingOnly() {
    var external =
        Fixtures.cluster(
            "ext", Fixtures.TWO_POOLS + "external: {dashboardUrl: 'http://ray:8265'}\n");
    var status =
        new ClusterStatusBuilder(T0)
            .build(external, new ClusterObservation(null, List.of(), Map.of(), null, null));
    assertThat(status.dashboardUrl).isEqualTo("http://ray:8265");
    assertThat(status.serveUrl).isEqualTo("http://ray:8000");
    assertThat(status.rayClusterName).isNull();
    assertThat(status.totals.gpus).isEqualTo(2 * 8 + 4);
    assertThat(reason(status, "Ready")).isEqualTo("ExternalCluster");
  }

  @Test
  void anExternalClustersNodesAreThoseRayReportsAlive() {
    var external =
        Fixtures.cluster(
            "ext", Fixtures.TWO_POOLS + "external: {dashboardUrl: 'http://ray:8265'}\n");
    var alive =
        List.of(
            rayNode("n-l4", "10.0.0.3", Map.of("GPU", 4.0, "ndif_pool_l4", 1.0)),
            rayNode("n-head", "10.0.0.1", Map.of("CPU", 8.0)),
            rayNode("n-a1", "10.0.0.2", Map.of("GPU", 8.0, "ndif_pool_a100", 1.0)),
            rayNode(
                "n-a0",
                "10.0.0.1",
                Map.of("GPU", 8.0, "ndif_pool_a100", 1.0, "accelerator_type:A100", 1.0)));
    var status = buildExternal(external, new ClusterObservation.RayNodes(alive, null));

    assertThat(status.nodes)
        .extracting(
            n -> n.rayNodeId + "@" + n.nodeIp + ":" + n.pool + ":" + n.gpus + ":" + n.gpuProduct)
        .containsExactly(
            "n-a0@10.0.0.1:a100:8:A100",
            "n-a1@10.0.0.2:a100:8:null",
            "n-l4@10.0.0.3:l4:4:null",
            "n-head@10.0.0.1:null:0:null");
    assertThat(status.nodes).allMatch(n -> n.ready && n.pod == null);
    assertThat(status.pools)
        .extracting(p -> p.name + ":" + p.readyNodes + "/" + p.desiredNodes + ":" + p.gpus)
        .containsExactly("a100:2/2:16", "l4:1/1:4");
    assertThat(status.nodeSummary).isEqualTo("3/3");
    var ready = Conditions.find(status.conditions, "Ready").get();
    assertThat(ready.getStatus()).isEqualTo("True");
    assertThat(ready.getReason()).isEqualTo("ExternalCluster");
    assertThat(ready.getMessage()).endsWith("; 4 live Ray node(s), 20 GPUs in pools");
  }

  @Test
  void anExternalPoolWithTooFewRayNodesIsNotReady() {
    var external =
        Fixtures.cluster(
            "ext", Fixtures.TWO_POOLS + "external: {dashboardUrl: 'http://ray:8265'}\n");
    var alive = List.of(rayNode("n-a0", "10.0.0.1", Map.of("GPU", 8.0, "ndif_pool_a100", 1.0)));
    var status = buildExternal(external, new ClusterObservation.RayNodes(alive, null));

    var ready = Conditions.find(status.conditions, "Ready").get();
    assertThat(ready.getStatus()).isEqualTo("False");
    assertThat(ready.getReason()).isEqualTo("NodesNotReady");
    assertThat(ready.getMessage())
        .isEqualTo(
            "adopted Ray cluster at http://ray:8265; pool a100: 1/2 Ray nodes carry the resource"
                + " ndif_pool_a100, pool l4: 0/1 Ray nodes carry the resource ndif_pool_l4");
    assertThat(status.nodeSummary).isEqualTo("1/3");
  }

  @Test
  void unlistableRayNodesLeaveTheSpecsCountAndSayWhy() {
    var external =
        Fixtures.cluster(
            "ext", Fixtures.TWO_POOLS + "external: {dashboardUrl: 'http://ray:8265'}\n");
    var status =
        buildExternal(
            external,
            new ClusterObservation.RayNodes(
                List.of(), "the Ray dashboard at http://ray:8265 answered 404"));

    assertThat(status.nodes).isEmpty();
    assertThat(status.nodeSummary).isEqualTo("3/3");
    var ready = Conditions.find(status.conditions, "Ready").get();
    assertThat(ready.getReason()).isEqualTo("ExternalCluster");
    assertThat(ready.getMessage())
        .isEqualTo(
            "adopted Ray cluster at http://ray:8265; pools are counted from the spec because"
                + " Ray's nodes cannot be listed: the Ray dashboard at http://ray:8265 answered 404");
  }

  private static NdifClusterStatus buildExternal(
      NdifCluster external, ClusterObservation.RayNodes rayNodes) {
    return new ClusterStatusBuilder(T0)
        .build(external, new ClusterObservation(null, List.of(), Map.of(), null, null, rayNodes));
  }

  private static ServeDashboard.RayNode rayNode(
      String id, String ip, Map<String, Double> resources) {
    return new ServeDashboard.RayNode(id, ip, resources);
  }

  @Test
  void anExternalClusterMayNameItsServeProxy() {
    var external =
        Fixtures.cluster(
            "ext",
            Fixtures.TWO_POOLS
                + "external: {dashboardUrl: 'http://127.0.0.1:32001',"
                + " serveUrl: 'http://127.0.0.1:32002/'}\n");
    var status =
        new ClusterStatusBuilder(T0)
            .build(external, new ClusterObservation(null, List.of(), Map.of(), null, null));
    assertThat(status.serveUrl).isEqualTo("http://127.0.0.1:32002");
  }

  private NdifClusterStatus build(Clock clock, NdifCluster c, List<Pod> pods) {
    return new ClusterStatusBuilder(clock)
        .build(c, new ClusterObservation(rayCluster, pods, NODES, null, null));
  }

  private static String reason(NdifClusterStatus status, String type) {
    return Conditions.reason(status.conditions, type);
  }

  private static List<Pod> allReady() {
    return new ArrayList<>(
        List.of(
            head(true),
            worker("fleet-a100-0", "a100", "gpu-0", true, 8),
            worker("fleet-a100-1", "a100", "gpu-1", true, 8),
            worker("fleet-l4-0", "l4", "l4-0", true, 4)));
  }

  static Pod head(boolean ready) {
    return pod(
        "fleet-head",
        Map.of("ray.io/node-type", "head", "ndif.io/cluster", "fleet"),
        "cpu-0",
        ready,
        0);
  }

  static Pod worker(String name, String pool, String node, boolean ready, int gpus) {
    return pod(
        name,
        Map.of("ray.io/node-type", "worker", "ndif.io/cluster", "fleet", "ndif.io/pool", pool),
        node,
        ready,
        gpus);
  }

  private static Pod pod(
      String name, Map<String, String> labels, String node, boolean ready, int gpus) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("ns")
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withNodeName(node)
        .addNewContainer()
        .withName("ray")
        .withNewResources()
        .withLimits(
            gpus > 0 ? Map.of("nvidia.com/gpu", new Quantity(String.valueOf(gpus))) : Map.of())
        .endResources()
        .endContainer()
        .endSpec()
        .withNewStatus()
        .withPhase(node == null ? "Pending" : "Running")
        .withPodIP(node == null ? null : "10.244.0." + Math.abs(name.hashCode() % 200))
        .addNewCondition()
        .withType("Ready")
        .withStatus(ready ? "True" : "False")
        .endCondition()
        .endStatus()
        .build();
  }

  /** The pod, pending because no node fits it. */
  static Pod unschedulable(Pod pod, String message) {
    return new PodBuilder(pod)
        .editStatus()
        .withPhase("Pending")
        .addNewCondition()
        .withType("PodScheduled")
        .withStatus("False")
        .withReason("Unschedulable")
        .withMessage(message)
        .endCondition()
        .endStatus()
        .build();
  }

  /** The pod with its ray container waiting for {@code reason}, having exited before if given. */
  static Pod failing(Pod pod, String reason, String message, Integer lastExitCode) {
    var status =
        new io.fabric8.kubernetes.api.model.ContainerStatusBuilder()
            .withName("ray")
            .withNewState()
            .withNewWaiting()
            .withReason(reason)
            .withMessage(message)
            .endWaiting()
            .endState();
    if (lastExitCode != null) {
      status
          .withNewLastState()
          .withNewTerminated()
          .withExitCode(lastExitCode)
          .withReason("Error")
          .endTerminated()
          .endLastState();
    }
    return new PodBuilder(pod)
        .editStatus()
        .withContainerStatuses(status.build())
        .endStatus()
        .build();
  }

  private static Node node(String name, String product) {
    return new NodeBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("nvidia.com/gpu.product", product)
        .endMetadata()
        .build();
  }
}
