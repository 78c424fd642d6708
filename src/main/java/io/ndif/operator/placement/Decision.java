package io.ndif.operator.placement;

/**
 * The plan's verdict for one deployment.
 *
 * @param pool the pool it is admitted to, or for a pending one the pool it was measured against
 *     (may be null)
 * @param gpusPerReplica GPUs of one replica in that pool, or null when unknown
 * @param reason CamelCase reason: Admitted, SizeUnknown, PoolNotFound, ModelTooLarge,
 *     InsufficientCapacity or Preempted
 */
public record Decision(
    String id,
    boolean admitted,
    String pool,
    Double gpusPerReplica,
    String reason,
    String message) {
  public static final String ADMITTED = "Admitted";
  public static final String SIZE_UNKNOWN = "SizeUnknown";
  public static final String POOL_NOT_FOUND = "PoolNotFound";
  public static final String MODEL_TOO_LARGE = "ModelTooLarge";
  public static final String INSUFFICIENT_CAPACITY = "InsufficientCapacity";
  public static final String PREEMPTED = "Preempted";
}
