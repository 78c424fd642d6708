package io.ndif.operator.placement;

/**
 * What a pool can hold.
 *
 * @param nodes nodes that may run (maxNodes, or nodes when autoscaling is disabled)
 * @param minNodes fewest nodes the pool runs whatever the demand
 */
public record PoolCapacity(
    String name, int gpusPerNode, long gpuMemoryBytes, int nodes, int minNodes) {
  public int gpus() {
    return nodes * gpusPerNode;
  }
}
