package io.ndif.operator.deployment;

import static io.ndif.operator.deployment.DeploymentStatusBuilder.SCHEDULED;

import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.observability.EventRecorder.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Events from the change of a deployment's Scheduled condition: admitted, preempted, re-admitted.
 */
final class DeploymentEvents {
  record Event(Type type, String reason, String message) {}

  private DeploymentEvents() {}

  static List<Event> between(NdifDeploymentStatus before, NdifDeploymentStatus after) {
    List<Event> events = new ArrayList<>();
    var now = Conditions.find(after.conditions, SCHEDULED);
    if (now.isEmpty()) {
      windows(before, after, events);
      return events;
    }
    var was = before == null ? null : Conditions.find(before.conditions, SCHEDULED).orElse(null);
    boolean isAdmitted = Conditions.TRUE.equals(now.get().getStatus());
    boolean wasAdmitted = was != null && Conditions.TRUE.equals(was.getStatus());
    var ready = Conditions.find(after.conditions, DeploymentStatusBuilder.READY);
    var wasReady =
        before == null
            ? null
            : Conditions.find(before.conditions, DeploymentStatusBuilder.READY).orElse(null);
    boolean becameReady =
        ready.isPresent()
            && Conditions.TRUE.equals(ready.get().getStatus())
            && (wasReady == null || !Conditions.TRUE.equals(wasReady.getStatus()));
    boolean admittedNow = isAdmitted && !wasAdmitted;
    if (admittedNow) {
      boolean back = DeploymentStatusBuilder.wasPreempted(before);
      // Admitted and ready in one observation is one Event: a rollout writes one per deployment.
      String message =
          becameReady
              ? now.get().getMessage() + "; ready: " + ready.get().getMessage()
              : now.get().getMessage();
      events.add(new Event(Type.Normal, back ? "Readmitted" : "Admitted", message));
    } else if (!isAdmitted
        && !Conditions.UNKNOWN.equals(now.get().getStatus())
        && (was == null || !Objects.equals(was.getReason(), now.get().getReason()))) {
      events.add(new Event(Type.Warning, now.get().getReason(), now.get().getMessage()));
    }
    if (ready.isPresent()
        && FAILURES.contains(ready.get().getReason())
        && (wasReady == null || !ready.get().getReason().equals(wasReady.getReason()))) {
      events.add(new Event(Type.Warning, ready.get().getReason(), ready.get().getMessage()));
    }
    if (becameReady && !admittedNow) {
      events.add(new Event(Type.Normal, "Ready", ready.get().getMessage()));
    }
    windows(before, after, events);
    return events;
  }

  /** Entering and leaving a schedule window, and a schedule that became invalid. */
  private static void windows(
      NdifDeploymentStatus before, NdifDeploymentStatus after, List<Event> events) {
    var was = before == null || before.schedule == null ? null : before.schedule.current;
    var is = after.schedule == null ? null : after.schedule.current;
    if (was == null && is != null) {
      events.add(
          new Event(
              Type.Normal,
              "WindowOpened",
              ScheduleReport.describe(is)
                  + " opened: pinned until "
                  + is.end
                  + (is.priority == null ? "" : ", priority " + after.priority)));
    } else if (was != null && is == null) {
      var next = after.schedule == null ? null : after.schedule.next;
      events.add(
          new Event(
              Type.Normal,
              "WindowClosed",
              ScheduleReport.describe(was)
                  + " closed: "
                  + (Boolean.TRUE.equals(after.pinned)
                      ? "still pinned by spec.pinned"
                      : "no longer pinned")
                  + (next == null ? "" : "; the next opens " + next.start)));
    }
    var valid = Conditions.find(after.conditions, ScheduleReport.SCHEDULE_VALID);
    var wasValid =
        before == null
            ? null
            : Conditions.find(before.conditions, ScheduleReport.SCHEDULE_VALID).orElse(null);
    if (valid.isPresent()
        && Conditions.FALSE.equals(valid.get().getStatus())
        && (wasValid == null || !Objects.equals(wasValid.getMessage(), valid.get().getMessage()))) {
      events.add(
          new Event(Type.Warning, ScheduleReport.INVALID_SCHEDULE, valid.get().getMessage()));
    }
  }

  private static final java.util.Set<String> FAILURES =
      java.util.Set.of("DeployFailed", "Unhealthy", "RayServiceApplyFailed");
}
