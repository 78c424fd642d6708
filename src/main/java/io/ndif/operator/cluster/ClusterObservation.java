package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.ndif.operator.ray.KubeRayWarnings;
import io.ndif.operator.ray.ServeDashboard;
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
 * @param rayNodes an external cluster's live nodes as Ray lists them, or null
 * @param templateConflicts why the head's or a pool's template override was refused (the RayCluster
 *     was then left as it is); empty when there is none
 * @param kubeRayWarnings KubeRay's standing Warning events on the RayCluster (an invalid spec)
 */
public record ClusterObservation(
    GenericKubernetesResource rayCluster,
    List<Pod> pods,
    Map<String, Node> nodes,
    String applyError,
    ClusterPlanning.Result planning,
    RayNodes rayNodes,
    List<String> templateConflicts,
    List<KubeRayWarnings.Warning> kubeRayWarnings) {
  /**
   * @param alive the nodes Ray reports ALIVE, empty when they could not be listed
   * @param error why they could not be listed, or null
   */
  public record RayNodes(List<ServeDashboard.RayNode> alive, String error) {}

  public ClusterObservation(
      GenericKubernetesResource rayCluster,
      List<Pod> pods,
      Map<String, Node> nodes,
      String applyError,
      ClusterPlanning.Result planning) {
    this(rayCluster, pods, nodes, applyError, planning, null, List.of(), List.of());
  }

  public ClusterObservation(
      GenericKubernetesResource rayCluster,
      List<Pod> pods,
      Map<String, Node> nodes,
      String applyError,
      ClusterPlanning.Result planning,
      RayNodes rayNodes) {
    this(rayCluster, pods, nodes, applyError, planning, rayNodes, List.of(), List.of());
  }

  /** Key of the planned nodes per pool in the workflow context, read by the RayCluster. */
  public static final String PLANNED_NODES = "plannedNodes";

  public Map<String, Integer> plannedNodes() {
    return planning == null ? Map.of() : planning.plannedNodes();
  }
}
