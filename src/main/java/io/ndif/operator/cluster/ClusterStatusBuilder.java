package io.ndif.operator.cluster;

import static io.ndif.operator.api.Constants.GPU_PRODUCT_LABEL;
import static io.ndif.operator.api.Constants.GPU_RESOURCE;
import static io.ndif.operator.api.Constants.LABEL_POOL;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.api.NdifClusterStatus.HeadStatus;
import io.ndif.operator.api.NdifClusterStatus.NodeStatus;
import io.ndif.operator.api.NdifClusterStatus.PoolStatus;
import io.ndif.operator.api.NdifClusterStatus.Totals;
import io.ndif.operator.api.PoolSpec;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.PodTrouble;
import io.ndif.operator.ray.ServeDashboard;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/** Rebuilds an NdifCluster's status from what was observed; it keeps nothing in memory. */
public final class ClusterStatusBuilder {
  public static final String READY = "Ready";
  public static final String PROGRESSING = "Progressing";
  public static final String DEGRADED = "Degraded";
  // Ray's resource naming a node's accelerator, e.g. accelerator_type:A100.
  private static final String ACCELERATOR_TYPE = "accelerator_type:";

  private final Clock clock;

  public ClusterStatusBuilder(Clock clock) {
    this.clock = clock;
  }

  public NdifClusterStatus build(NdifCluster cluster, ClusterObservation seen) {
    var previous = cluster.getStatus();
    var status = new NdifClusterStatus();
    status.observedGeneration = cluster.getMetadata().getGeneration();
    var conditions =
        new Conditions(
            previous == null ? null : previous.conditions,
            cluster.getMetadata().getGeneration(),
            clock);
    if (cluster.getSpec().usesExternalCluster()) {
      buildExternal(cluster, seen.rayNodes(), status, conditions);
      applyPlan(status, seen.planning());
    } else {
      buildManaged(cluster, seen, status, conditions);
      applyPlan(status, seen.planning());
    }
    status.conditions = conditions.build();
    return status;
  }

  private void buildExternal(
      NdifCluster cluster,
      ClusterObservation.RayNodes rayNodes,
      NdifClusterStatus status,
      Conditions conditions) {
    var external = cluster.getSpec().external;
    status.dashboardUrl = external.dashboardUrl;
    status.serveUrl =
        external.serveUrl != null
            ? external.serveUrl.replaceFirst("/+$", "")
            : KubeRay.serveUrlBeside(external.dashboardUrl);
    boolean observed = rayNodes != null && rayNodes.error() == null;
    if (observed) {
      status.nodes = externalNodes(cluster.getSpec().pools, rayNodes.alive());
    }
    int desired = 0;
    int ready = 0;
    int gpus = 0;
    List<String> shortPools = new ArrayList<>();
    for (PoolSpec pool : cluster.getSpec().pools) {
      int poolDesired = pool.nodesOrDefault();
      int poolReady = poolDesired;
      int poolGpus = poolDesired * pool.gpusPerNode;
      if (observed) {
        var inPool = status.nodes.stream().filter(n -> pool.name.equals(n.pool)).toList();
        poolReady = inPool.size();
        poolGpus = inPool.stream().mapToInt(n -> n.gpus == null ? 0 : n.gpus).sum();
        if (poolReady < poolDesired) {
          shortPools.add(
              "pool "
                  + pool.name
                  + ": "
                  + poolReady
                  + "/"
                  + poolDesired
                  + " Ray nodes carry the resource "
                  + KubeRay.poolResource(pool.name));
        }
      }
      status.pools.add(pool(pool, poolDesired, poolReady, poolGpus));
      desired += poolDesired;
      ready += poolReady;
      gpus += poolGpus;
    }
    status.totals = totals(desired, ready, gpus);
    status.nodeSummary = ready + "/" + desired;
    String adopted = "adopted Ray cluster at " + status.dashboardUrl;
    if (!shortPools.isEmpty()) {
      conditions.set(READY, false, "NodesNotReady", adopted + "; " + String.join(", ", shortPools));
    } else if (observed) {
      conditions.set(
          READY,
          true,
          "ExternalCluster",
          adopted + "; " + status.nodes.size() + " live Ray node(s), " + gpus + " GPUs in pools");
    } else {
      conditions.set(
          READY,
          true,
          "ExternalCluster",
          adopted
              + "; pools are counted from the spec"
              + (rayNodes == null
                  ? ""
                  : " because Ray's nodes cannot be listed: " + rayNodes.error()));
    }
    conditions
        .set(
            PROGRESSING,
            false,
            "ExternalCluster",
            "the operator does not manage this cluster's nodes")
        .set(
            DEGRADED,
            false,
            "ExternalCluster",
            "the operator does not manage this cluster's nodes");
  }

  /** Ray's live nodes, each in the pool whose resource it carries; pool nodes first. */
  private static List<NodeStatus> externalNodes(
      List<PoolSpec> pools, List<ServeDashboard.RayNode> alive) {
    List<NodeStatus> nodes = new ArrayList<>();
    for (var rayNode : alive) {
      var node = new NodeStatus();
      node.rayNodeId = rayNode.id();
      node.nodeIp = rayNode.ip();
      node.ready = true;
      node.pool =
          pools.stream()
              .map(p -> p.name)
              .filter(name -> rayNode.resources().getOrDefault(KubeRay.poolResource(name), 0.0) > 0)
              .findFirst()
              .orElse(null);
      double gpus = rayNode.resources().getOrDefault("GPU", 0.0);
      node.gpus = (int) gpus;
      node.gpuProduct =
          rayNode.resources().keySet().stream()
              .filter(k -> k.startsWith(ACCELERATOR_TYPE))
              .map(k -> k.substring(ACCELERATOR_TYPE.length()))
              .findFirst()
              .orElse(null);
      nodes.add(node);
    }
    nodes.sort(
        Comparator.comparing((NodeStatus n) -> n.pool == null)
            .thenComparing(n -> Objects.toString(n.pool, ""))
            .thenComparing(n -> Objects.toString(n.nodeIp, ""))
            .thenComparing(n -> Objects.toString(n.rayNodeId, "")));
    return nodes;
  }

  private void buildManaged(
      NdifCluster cluster,
      ClusterObservation seen,
      NdifClusterStatus status,
      Conditions conditions) {
    String name = cluster.getMetadata().getName();
    status.dashboardUrl =
        "http://"
            + KubeRay.headServiceName(name)
            + "."
            + cluster.getMetadata().getNamespace()
            + ".svc:"
            + KubeRay.DASHBOARD_PORT;
    status.serveUrl = KubeRay.serveUrlBeside(status.dashboardUrl);
    if (seen.rayCluster() != null) {
      status.rayClusterName = name;
    }
    Pod headPod = null;
    List<Pod> workers = new ArrayList<>();
    for (Pod pod : seen.pods()) {
      String type = pod.getMetadata().getLabels().get(KubeRay.LABEL_NODE_TYPE);
      if (KubeRay.NODE_TYPE_HEAD.equals(type) && pod.getMetadata().getDeletionTimestamp() == null) {
        headPod = pod;
      } else if (KubeRay.NODE_TYPE_WORKER.equals(type)) {
        workers.add(pod);
      }
    }
    workers.sort(Comparator.comparing(p -> p.getMetadata().getName()));
    status.head = head(headPod, name);

    Map<String, List<String>> unschedulable = new LinkedHashMap<>();
    Map<String, List<String>> failing = new LinkedHashMap<>();
    for (Pod pod : workers) {
      String pool = pod.getMetadata().getLabels().get(LABEL_POOL);
      var node = new NodeStatus();
      node.pod = pod.getMetadata().getName();
      node.pool = pool;
      node.nodeName = pod.getSpec().getNodeName();
      node.podIP = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
      node.phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
      node.ready = PodTrouble.isReady(pod);
      node.gpus = gpuLimit(pod);
      node.gpuProduct =
          Optional.ofNullable(node.nodeName)
              .map(seen.nodes()::get)
              .map(n -> n.getMetadata().getLabels())
              .map(l -> l.get(GPU_PRODUCT_LABEL))
              .orElse(null);
      status.nodes.add(node);
      PodTrouble.of(pod)
          .ifPresent(
              t ->
                  (t.kind() == PodTrouble.Kind.UNSCHEDULABLE ? unschedulable : failing)
                      .computeIfAbsent(pool, k -> new ArrayList<>())
                      .add(t.message()));
    }

    var mode = cluster.getSpec().autoscalingMode();
    var liveReplicas = LiveWorkerGroups.replicas(seen.rayCluster());
    int desired = 0;
    int ready = 0;
    int gpus = 0;
    List<String> notReady = new ArrayList<>();
    for (PoolSpec pool : cluster.getSpec().pools) {
      int poolDesired =
          PoolSizing.of(pool, mode, liveReplicas.get(pool.name), seen.plannedNodes().get(pool.name))
              .replicas();
      int poolReady =
          (int)
              status.nodes.stream()
                  .filter(n -> pool.name.equals(n.pool) && Boolean.TRUE.equals(n.ready))
                  .count();
      var p = pool(pool, poolDesired, poolReady, poolReady * pool.gpusPerNode);
      status.pools.add(p);
      desired += poolDesired;
      ready += poolReady;
      gpus += p.gpus;
      if (poolReady < poolDesired) {
        notReady.add("pool " + pool.name + ": " + poolReady + "/" + poolDesired);
      }
    }
    status.totals = totals(desired, ready, gpus);
    status.nodeSummary = ready + "/" + desired;

    boolean headReady = Boolean.TRUE.equals(status.head.ready);
    String nodesMessage = ready + "/" + desired + " worker nodes ready, " + gpus + " GPUs";
    var headTrouble =
        headPod == null ? Optional.<PodTrouble.Trouble>empty() : PodTrouble.of(headPod);
    List<Problem> problems = new ArrayList<>();
    if (!seen.templateConflicts().isEmpty()) {
      problems.add(
          new Problem(
              "PodTemplateConflict",
              "the RayCluster is left as it is until the template override is fixed: "
                  + String.join("; ", seen.templateConflicts())));
    }
    if (seen.applyError() != null) {
      problems.add(new Problem("RayClusterApplyFailed", seen.applyError()));
    }
    for (var warning : seen.kubeRayWarnings()) {
      problems.add(new Problem(warning.reason(), warning.describe()));
    }
    replicaFailure(seen.rayCluster()).ifPresent(problems::add);
    headTrouble.ifPresent(
        t ->
            problems.add(
                new Problem(
                    t.kind() == PodTrouble.Kind.UNSCHEDULABLE
                        ? "HeadUnschedulable"
                        : "HeadPodFailing",
                    "the Ray head pod " + t.describe())));
    if (!unschedulable.isEmpty()) {
      problems.add(new Problem("PoolUnschedulable", perPool(unschedulable, "cannot be scheduled")));
    }
    if (!failing.isEmpty()) {
      problems.add(new Problem("WorkerPodsFailing", perPool(failing, "failing")));
    }
    if (problems.isEmpty()) {
      conditions.set(DEGRADED, false, "Healthy", "no Ray pod is unschedulable or failing");
    } else {
      conditions.set(
          DEGRADED,
          true,
          problems.get(0).reason(),
          String.join("; ", problems.stream().map(Problem::message).toList()));
    }

    if (seen.rayCluster() == null && !seen.templateConflicts().isEmpty()) {
      conditions
          .set(READY, false, "PodTemplateConflict", "the RayCluster " + name + " is not created")
          .set(
              PROGRESSING,
              false,
              "PodTemplateConflict",
              "waiting for the template override to be fixed");
    } else if (seen.rayCluster() == null) {
      conditions
          .set(READY, false, "RayClusterPending", "the RayCluster " + name + " does not exist yet")
          .set(PROGRESSING, true, "CreatingRayCluster", "creating the RayCluster " + name);
    } else if (!headReady) {
      conditions
          .set(
              READY,
              false,
              "HeadNotReady",
              (headPod == null
                      ? "the Ray head pod does not exist yet"
                      : "the Ray head pod is not ready"
                          + headTrouble.map(t -> " (" + t.reason() + ")").orElse(""))
                  + "; "
                  + nodesMessage)
          .set(PROGRESSING, true, "StartingHead", "waiting for the Ray head pod");
    } else if (!notReady.isEmpty()) {
      conditions
          .set(
              READY,
              false,
              "NodesNotReady",
              nodesMessage + " (" + String.join(", ", notReady) + ")")
          .set(PROGRESSING, true, "ScalingPools", nodesMessage);
    } else if (workers.size() > desired) {
      conditions
          .set(READY, true, "AllNodesReady", "head and " + nodesMessage)
          .set(
              PROGRESSING,
              true,
              "RemovingNodes",
              (workers.size() - desired) + " surplus worker pod(s) are being removed");
    } else {
      conditions
          .set(READY, true, "AllNodesReady", "head and " + nodesMessage)
          .set(PROGRESSING, false, "Stable", "every pool has its desired nodes");
    }
  }

  /** Writes the placement plan into the pools, the totals and the deployment list. */
  private static void applyPlan(NdifClusterStatus status, ClusterPlanning.Result planning) {
    if (planning == null) {
      return;
    }
    double allocated = 0;
    for (PoolStatus pool : status.pools) {
      var planned = planning.plan().pools().get(pool.name);
      if (planned == null) {
        continue;
      }
      pool.allocatedGpus = planned.allocatedGpus();
      pool.allocatedMemoryBytes = planned.allocatedMemoryBytes();
      pool.admitted = planned.admitted().isEmpty() ? null : planned.admitted();
      pool.pending = planned.pending().isEmpty() ? null : planned.pending();
      allocated += planned.allocatedGpus();
    }
    status.totals.allocatedGpus = allocated;
    status.totals.pendingGpus =
        planning.placements().stream()
            .filter(p -> !Boolean.TRUE.equals(p.admitted) && p.gpusPerReplica != null)
            .mapToDouble(p -> p.gpusPerReplica * p.replicas)
            .sum();
    status.deployments = planning.placements();
  }

  private static PoolStatus pool(PoolSpec spec, int desired, int ready, int gpus) {
    var p = new PoolStatus();
    p.name = spec.name;
    p.desiredNodes = desired;
    p.readyNodes = ready;
    p.gpus = gpus;
    p.allocatedGpus = 0.0;
    p.gpuMemory = spec.gpuMemory == null ? null : spec.gpuMemory.toString();
    return p;
  }

  private static Totals totals(int desired, int ready, int gpus) {
    var t = new Totals();
    t.desiredNodes = desired;
    t.readyNodes = ready;
    t.gpus = gpus;
    t.allocatedGpus = 0.0;
    return t;
  }

  private static HeadStatus head(Pod pod, String clusterName) {
    var head = new HeadStatus();
    head.service = KubeRay.headServiceName(clusterName);
    head.ready = pod != null && PodTrouble.isReady(pod);
    if (pod != null) {
      head.pod = pod.getMetadata().getName();
      head.podIP = pod.getStatus() == null ? null : pod.getStatus().getPodIP();
    }
    return head;
  }

  private record Problem(String reason, String message) {}

  private static String perPool(Map<String, List<String>> messages, String what) {
    List<String> parts = new ArrayList<>();
    messages.forEach(
        (pool, list) ->
            parts.add(
                "pool "
                    + pool
                    + ": "
                    + list.size()
                    + " worker pod(s) "
                    + what
                    + ": "
                    + list.get(0)));
    return String.join("; ", parts);
  }

  /** KubeRay's ReplicaFailure condition: it could not create or delete a pod. */
  private static Optional<Problem> replicaFailure(GenericKubernetesResource rayCluster) {
    if (rayCluster == null
        || !(rayCluster.getAdditionalProperties().get("status") instanceof Map<?, ?> status)
        || !(status.get("conditions") instanceof List<?> list)) {
      return Optional.empty();
    }
    for (Object item : list) {
      if (item instanceof Map<?, ?> c
          && "ReplicaFailure".equals(c.get("type"))
          && "True".equals(c.get("status"))) {
        return Optional.of(
            new Problem(
                "RayClusterReplicaFailure",
                "KubeRay: " + c.get("reason") + ": " + Objects.toString(c.get("message"), "")));
      }
    }
    return Optional.empty();
  }

  private static Integer gpuLimit(Pod pod) {
    if (pod.getSpec().getContainers().isEmpty()
        || pod.getSpec().getContainers().get(0).getResources() == null) {
      return 0;
    }
    Map<String, Quantity> limits = pod.getSpec().getContainers().get(0).getResources().getLimits();
    Quantity gpu = limits == null ? null : limits.get(GPU_RESOURCE);
    return gpu == null ? 0 : gpu.getNumericalAmount().intValue();
  }
}
