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
    var copy = new Copy(this);
    copy.pinned = value;
    return copy.build();
  }

  public Demand inPool(String value) {
    var copy = new Copy(this);
    copy.pool = value;
    return copy.build();
  }

  public Demand withGpus(Double value) {
    var copy = new Copy(this);
    copy.gpus = value;
    return copy.build();
  }

  public Demand admitted(String value, Instant at) {
    var copy = new Copy(this);
    copy.admittedPool = value;
    copy.admittedAt = at;
    return copy.build();
  }

  public Demand wasPending(String reason, String message) {
    var copy = new Copy(this);
    copy.pendingReason = reason;
    copy.pendingMessage = message;
    return copy.build();
  }

  /**
   * This demand as the next plan sees it after {@code previous} (the stored plan read back): kept
   * where it was admitted, or pending with the reason it was given.
   */
  public Demand after(Decision previous, Instant admittedAt) {
    return previous.admitted()
        ? admitted(previous.pool(), admittedAt)
        : wasPending(previous.reason(), previous.message());
  }

  /** A mutable copy, so that each wither names only the fields it changes. */
  private static final class Copy {
    private final Demand of;
    private boolean pinned;
    private Double gpus;
    private String pool;
    private String admittedPool;
    private Instant admittedAt;
    private String pendingReason;
    private String pendingMessage;

    Copy(Demand of) {
      this.of = of;
      pinned = of.pinned;
      gpus = of.gpus;
      pool = of.pool;
      admittedPool = of.admittedPool;
      admittedAt = of.admittedAt;
      pendingReason = of.pendingReason;
      pendingMessage = of.pendingMessage;
    }

    Demand build() {
      return new Demand(
          of.id,
          of.priority,
          of.createdAt,
          pinned,
          of.sizeBytes,
          gpus,
          pool,
          of.replicas,
          admittedPool,
          admittedAt,
          pendingReason,
          pendingMessage);
    }
  }
}
