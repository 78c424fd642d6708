package io.ndif.operator.cluster;

import static io.ndif.operator.cluster.ClusterStatusBuilder.DEGRADED;
import static io.ndif.operator.cluster.ClusterStatusBuilder.READY;

import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.observability.EventRecorder;
import io.ndif.operator.observability.EventRecorder.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Turns the difference between the stored and the new status into Events, so that a restart (which
 * re-reads the stored status) never repeats one.
 */
public final class ClusterEvents {
  public record Event(Type type, String reason, String message) {}

  private ClusterEvents() {}

  public static List<Event> between(NdifClusterStatus before, NdifClusterStatus after) {
    var old = before == null ? new NdifClusterStatus() : before;
    List<Event> events = new ArrayList<>();
    if (old.rayClusterName == null && after.rayClusterName != null) {
      events.add(
          new Event(
              Type.Normal, "RayClusterCreated", "created RayCluster " + after.rayClusterName));
    }
    for (var pool : after.pools) {
      old.pools.stream()
          .filter(p -> p.name.equals(pool.name))
          .filter(p -> p.desiredNodes != null && !p.desiredNodes.equals(pool.desiredNodes))
          .findFirst()
          .ifPresent(
              p ->
                  events.add(
                      new Event(
                          Type.Normal,
                          "PoolScaled",
                          "pool "
                              + pool.name
                              + ": "
                              + p.desiredNodes
                              + " -> "
                              + pool.desiredNodes
                              + " nodes")));
    }
    var degraded = Conditions.find(after.conditions, DEGRADED);
    if (degraded.isPresent() && Conditions.TRUE.equals(degraded.get().getStatus())) {
      var was = Conditions.find(old.conditions, DEGRADED);
      boolean wasSame =
          was.isPresent()
              && Conditions.TRUE.equals(was.get().getStatus())
              && Objects.equals(was.get().getReason(), degraded.get().getReason());
      if (!wasSame) {
        events.add(
            new Event(Type.Warning, degraded.get().getReason(), degraded.get().getMessage()));
      }
    }
    turnedTrue(old, after, ClusterGateway.READY, Type.Normal).ifPresent(events::add);
    turnedTrue(old, after, ClusterGateway.AUTH_DISABLED, Type.Warning).ifPresent(events::add);
    turnedTrue(old, after, ClusterGateway.CONTAINMENT_DISABLED, Type.Warning)
        .ifPresent(events::add);
    boolean wasReady = Conditions.isTrue(old.conditions, READY);
    boolean isReady = Conditions.isTrue(after.conditions, READY);
    if (!wasReady && isReady) {
      events.add(
          new Event(
              Type.Normal, "Ready", Conditions.find(after.conditions, READY).get().getMessage()));
    } else if (wasReady && !isReady) {
      var ready = Conditions.find(after.conditions, READY).get();
      events.add(new Event(Type.Warning, ready.getReason(), ready.getMessage()));
    }
    return events;
  }

  /** An Event named like the condition when it turned True, with the condition's message. */
  private static java.util.Optional<Event> turnedTrue(
      NdifClusterStatus before, NdifClusterStatus after, String condition, Type type) {
    if (Conditions.isTrue(before.conditions, condition)
        || !Conditions.isTrue(after.conditions, condition)) {
      return java.util.Optional.empty();
    }
    return java.util.Optional.of(
        new Event(
            type, condition, Conditions.find(after.conditions, condition).get().getMessage()));
  }

  public static void record(EventRecorder recorder, NdifCluster cluster, List<Event> events) {
    events.forEach(e -> recorder.record(cluster, e.type(), e.reason(), e.message()));
  }
}
