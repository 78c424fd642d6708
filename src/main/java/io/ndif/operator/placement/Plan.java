package io.ndif.operator.placement;

import java.util.List;
import java.util.Map;

/**
 * One cluster's placement: a decision per deployment (in admission order) and a summary per pool.
 */
public record Plan(Map<String, Decision> decisions, Map<String, PoolPlan> pools) {

  /**
   * @param allocatedGpus GPUs held by admitted replicas
   * @param desiredNodes nodes the admitted replicas need, within [minNodes, nodes]
   */
  public record PoolPlan(
      String name,
      double allocatedGpus,
      long allocatedMemoryBytes,
      int desiredNodes,
      List<String> admitted,
      List<String> pending) {}
}
