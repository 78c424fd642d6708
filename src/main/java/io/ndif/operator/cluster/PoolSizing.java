package io.ndif.operator.cluster;

import io.ndif.operator.api.AutoscalingMode;
import io.ndif.operator.api.PoolSpec;

/** Replica bounds of a pool's worker group for each autoscaling mode. */
public record PoolSizing(int replicas, int minReplicas, int maxReplicas) {

  /**
   * @param liveReplicas the worker group's replicas on the live RayCluster, or null; only Ray mode
   *     keeps it, because there KubeRay's autoscaler owns the number.
   * @param plannedNodes nodes the admitted deployments need, or null when unknown; Operator mode
   *     runs that many (within minNodes and maxNodes), or nodes when it is unknown.
   */
  public static PoolSizing of(
      PoolSpec pool, AutoscalingMode mode, Integer liveReplicas, Integer plannedNodes) {
    int min = pool.minNodesOrDefault();
    int max = pool.maxNodesOrDefault();
    int nodes = clamp(pool.nodesOrDefault(), min, max);
    return switch (mode) {
      case Disabled ->
          new PoolSizing(pool.nodesOrDefault(), pool.nodesOrDefault(), pool.nodesOrDefault());
      case Ray ->
          new PoolSizing(liveReplicas == null ? nodes : clamp(liveReplicas, min, max), min, max);
      case Operator ->
          new PoolSizing(plannedNodes == null ? nodes : clamp(plannedNodes, min, max), min, max);
    };
  }

  private static int clamp(int value, int min, int max) {
    return Math.max(min, Math.min(max, value));
  }
}
