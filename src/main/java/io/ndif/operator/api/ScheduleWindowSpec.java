package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "has(self.cron) != has(self.start)",
    message = "a window has either cron (with duration) or start (with end)")
@ValidationRule(
    value = "has(self.cron) == has(self.duration)",
    message = "cron and duration go together")
@ValidationRule(value = "has(self.start) == has(self.end)", message = "start and end go together")
public class ScheduleWindowSpec {
  @JsonPropertyDescription("A name for Events and status, e.g. the course it serves.")
  @Pattern("^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
  @Size(max = 63)
  public String name;

  @JsonPropertyDescription(
      "Unix cron expression (minute hour day-of-month month day-of-week) of the windows' starts,"
          + " in the schedule's time zone, e.g. '0 9 * * 1-5'.")
  @Size(max = 128)
  public String cron;

  @JsonPropertyDescription("How long each cron window lasts, e.g. 8h, 90m, 1h30m.")
  @Pattern(Durations.PATTERN)
  @Size(min = 2, max = 24)
  public String duration;

  @JsonPropertyDescription(
      "Start of a one-off window: a local date-time in the schedule's time zone"
          + " (2026-12-10T09:00) or with an offset (2026-12-10T09:00:00Z).")
  @Size(max = 40)
  public String start;

  @JsonPropertyDescription("End of a one-off window, written as start.")
  @Size(max = 40)
  public String end;

  @JsonPropertyDescription(
      "Priority while the window is open; the higher of this and the deployment's own applies.")
  public Integer priority;
}
