package io.ndif.operator.cluster;

import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.ray.ServeConfigs;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

public final class ReplicaNodes {
  private ReplicaNodes() {}

  /** Which Serve replicas (and how many GPUs) each Ray node runs. */
  static void assign(NdifClusterStatus status, String namespace) {
    if (status.serve == null || status.nodes.isEmpty()) {
      return;
    }
    Map<String, Double> gpus = new LinkedHashMap<>();
    status.deployments.forEach(
        d ->
            gpus.put(
                ServeConfigs.sharedApplicationName(namespace, d.name),
                d.gpusPerReplica == null ? 0.0 : d.gpusPerReplica));
    for (var node : status.nodes) {
      List<String> replicas = new ArrayList<>();
      double allocated = 0;
      for (var app : status.serve.applications) {
        for (var replica : app.replicas) {
          if (runsOn(node, replica)) {
            replicas.add(app.name + "/" + replica.id);
            allocated += gpus.getOrDefault(app.name, 0.0);
          }
        }
      }
      node.replicas = replicas.isEmpty() ? null : replicas;
      node.allocatedGpus = replicas.isEmpty() ? null : Math.round(allocated * 100) / 100.0;
    }
  }

  /**
   * Whether the replica runs on the node: by Ray's node id where status has it (external clusters,
   * whose nodes are Ray's), otherwise by the pod's IP (managed clusters, whose nodes are pods).
   */
  public static boolean runsOn(
      NdifClusterStatus.NodeStatus node, NdifClusterStatus.ServeReplica r) {
    return node.rayNodeId != null
        ? node.rayNodeId.equals(r.nodeId)
        : node.podIP != null && node.podIP.equals(r.nodeIp);
  }
}
