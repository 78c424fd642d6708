package io.ndif.operator.ray;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntry;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The Warning events KubeRay records on a RayCluster that still stand, such as {@code
 * InvalidRayClusterSpec}: KubeRay refuses such a spec without touching the RayCluster's status, so
 * its events are the only place the reason shows. A warning stands when it was seen at or after the
 * operator last applied the RayCluster (an older one is about a spec since replaced) and KubeRay
 * recorded no Normal event about the RayCluster after it (it since succeeded).
 */
public final class KubeRayWarnings {
  private KubeRayWarnings() {}

  /** One standing warning: KubeRay's reason and message. */
  public record Warning(String reason, String message) {
    public String describe() {
      return "KubeRay: " + reason + ": " + message;
    }
  }

  /**
   * @param events events about RayClusters in the namespace (others are ignored)
   * @param rayCluster the live RayCluster, or null
   * @param fieldManager the operator's field manager, whose last apply dates the spec
   */
  public static List<Warning> standing(
      Collection<Event> events, GenericKubernetesResource rayCluster, String fieldManager) {
    if (rayCluster == null || events.isEmpty()) {
      return List.of();
    }
    String uid = rayCluster.getMetadata().getUid();
    Instant applied = lastApplied(rayCluster, fieldManager);
    List<Event> about =
        events.stream()
            .filter(e -> e.getInvolvedObject() != null)
            .filter(e -> "RayCluster".equals(e.getInvolvedObject().getKind()))
            .filter(e -> Objects.equals(uid, e.getInvolvedObject().getUid()))
            .sorted(Comparator.comparing(KubeRayWarnings::lastSeen))
            .toList();
    Instant lastNormal =
        about.stream()
            .filter(e -> "Normal".equals(e.getType()))
            .map(KubeRayWarnings::lastSeen)
            .max(Comparator.naturalOrder())
            .orElse(Instant.MIN);
    Map<String, Warning> byReason = new LinkedHashMap<>();
    for (Event e : about) {
      Instant seen = lastSeen(e);
      // Seconds: the managed fields' time and an event's lastTimestamp have no finer grain.
      if ("Warning".equals(e.getType()) && !seen.isBefore(applied) && seen.isAfter(lastNormal)) {
        byReason.put(
            e.getReason(),
            new Warning(e.getReason(), e.getMessage() == null ? "" : e.getMessage()));
      }
    }
    return new ArrayList<>(byReason.values());
  }

  static Instant lastApplied(GenericKubernetesResource rayCluster, String fieldManager) {
    Instant applied = parse(rayCluster.getMetadata().getCreationTimestamp());
    List<ManagedFieldsEntry> fields = rayCluster.getMetadata().getManagedFields();
    if (fields != null) {
      for (ManagedFieldsEntry entry : fields) {
        if (fieldManager.equals(entry.getManager()) && entry.getTime() != null) {
          Instant time = parse(entry.getTime());
          if (time.isAfter(applied)) {
            applied = time;
          }
        }
      }
    }
    return applied;
  }

  static Instant lastSeen(Event e) {
    if (e.getLastTimestamp() != null) {
      return parse(e.getLastTimestamp());
    }
    if (e.getSeries() != null && e.getSeries().getLastObservedTime() != null) {
      return truncate(parse(e.getSeries().getLastObservedTime().getTime()));
    }
    if (e.getEventTime() != null && e.getEventTime().getTime() != null) {
      return truncate(parse(e.getEventTime().getTime()));
    }
    return parse(e.getFirstTimestamp());
  }

  private static Instant truncate(Instant t) {
    return t.truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
  }

  private static Instant parse(String time) {
    return time == null || time.isBlank() ? Instant.MIN : OffsetDateTime.parse(time).toInstant();
  }
}
