package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;
import java.util.Map;

/**
 * What the operator saw of one NdifCluster's world in one reconcile.
 *
 * @param rayCluster the live RayCluster, or null
 * @param pods the cluster's Ray pods (head and workers)
 * @param nodes the Kubernetes nodes those pods run on, by name
 * @param applyError why the RayCluster could not be applied, or null
 * @param planning the placement plan of the cluster's deployments
 */
public record ClusterObservation(
    GenericKubernetesResource rayCluster,
    List<Pod> pods,
    Map<String, Node> nodes,
    String applyError,
    ClusterPlanning.Result planning) {
  /** Key of the planned nodes per pool in the workflow context, read by the RayCluster. */
  public static final String PLANNED_NODES = "plannedNodes";

  public Map<String, Integer> plannedNodes() {
    return planning == null ? Map.of() : planning.plannedNodes();
  }
}
