package io.ndif.operator.deployment;

import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.api.NdifDeploymentStatus.ScheduleStatus;
import io.ndif.operator.api.NdifDeploymentStatus.WindowStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.schedule.PinSchedule;

/** A deployment's schedule as status: whether it is pinned now, the open and next windows. */
final class ScheduleReport {
  static final String SCHEDULE_VALID = "ScheduleValid";
  static final String INVALID_SCHEDULE = "InvalidSchedule";

  private ScheduleReport() {}

  static void fill(
      NdifDeploymentSpec spec,
      PinSchedule.State schedule,
      NdifDeploymentStatus status,
      Conditions conditions) {
    status.pinned = schedule.pinned(Boolean.TRUE.equals(spec.pinned));
    status.priority = schedule.priority(spec.priority == null ? 0 : spec.priority);
    if (spec.schedule == null) {
      return;
    }
    var report = new ScheduleStatus();
    report.current = window(schedule.current());
    report.next = window(schedule.next());
    status.schedule = report.current == null && report.next == null ? null : report;
    if (schedule.errors().isEmpty()) {
      conditions.set(SCHEDULE_VALID, true, "Valid", "every window is valid");
    } else {
      conditions.set(
          SCHEDULE_VALID,
          false,
          INVALID_SCHEDULE,
          String.join("; ", schedule.errors()) + "; the other windows apply");
    }
  }

  private static WindowStatus window(PinSchedule.Window window) {
    if (window == null) {
      return null;
    }
    var status = new WindowStatus();
    status.name = window.name();
    status.start = window.start().toString();
    status.end = window.end().toString();
    status.priority = window.priority();
    return status;
  }

  /** How a window reads in an Event: "window 'course' (until ...)". */
  static String describe(WindowStatus window) {
    return window.name == null ? "schedule window" : "schedule window '" + window.name + "'";
  }
}
