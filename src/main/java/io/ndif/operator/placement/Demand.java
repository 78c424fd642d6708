package io.ndif.operator.placement;

import java.time.Instant;

/**
 * One deployment as the planner sees it.
 *
 * @param id namespace/name, unique
 * @param sizeBytes padded size of one replica, or null when unknown
 * @param gpus explicit GPUs per replica, or null to derive them from the size
 * @param pool the pool it must run in, or null for best fit
 * @param admittedPool the pool it was admitted to by the previous plan, or null
 * @param admittedAt when it was admitted there, or null
 * @param pendingReason the reason it was pending with before, or null
 * @param pendingMessage the message it was pending with before, or null
 */
public record Demand(
    String id,
    int priority,
    Instant createdAt,
    boolean pinned,
    Long sizeBytes,
    Double gpus,
    String pool,
    int replicas,
    String admittedPool,
    Instant admittedAt,
    String pendingReason,
    String pendingMessage) {

  public static Demand of(
      String id, int priority, Instant createdAt, long sizeBytes, int replicas) {
    return new Demand(
        id, priority, createdAt, false, sizeBytes, null, null, replicas, null, null, null, null);
  }

  public Demand pinned(boolean value) {
    return new Demand(
        id,
        priority,
        createdAt,
        value,
        sizeBytes,
        gpus,
        pool,
        replicas,
        admittedPool,
        admittedAt,
        pendingReason,
        pendingMessage);
  }

  public Demand inPool(String value) {
    return new Demand(
        id,
        priority,
        createdAt,
        pinned,
        sizeBytes,
        gpus,
        value,
        replicas,
        admittedPool,
        admittedAt,
        pendingReason,
        pendingMessage);
  }

  public Demand withGpus(Double value) {
    return new Demand(
        id,
        priority,
        createdAt,
        pinned,
        sizeBytes,
        value,
        pool,
        replicas,
        admittedPool,
        admittedAt,
        pendingReason,
        pendingMessage);
  }

  public Demand admitted(String value, Instant at) {
    return new Demand(
        id,
        priority,
        createdAt,
        pinned,
        sizeBytes,
        gpus,
        pool,
        replicas,
        value,
        at,
        pendingReason,
        pendingMessage);
  }

  public Demand wasPending(String reason, String message) {
    return new Demand(
        id,
        priority,
        createdAt,
        pinned,
        sizeBytes,
        gpus,
        pool,
        replicas,
        admittedPool,
        admittedAt,
        reason,
        message);
  }
}
