package io.ndif.operator.schedule;

import com.cronutils.model.CronType;
import com.cronutils.model.definition.CronDefinitionBuilder;
import com.cronutils.model.time.ExecutionTime;
import com.cronutils.parser.CronParser;
import io.ndif.operator.api.Durations;
import io.ndif.operator.api.ScheduleSpec;
import io.ndif.operator.api.ScheduleWindowSpec;
import java.time.DateTimeException;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * A deployment's pin schedule at one instant: the window open now, the next one, and when to look
 * again. Pure: the clock is the caller's, so a restarted operator decides the same.
 */
public final class PinSchedule {
  private static final CronParser CRON =
      new CronParser(CronDefinitionBuilder.instanceDefinitionFor(CronType.UNIX));

  /** Windows that touch or overlap are one; the chain is followed this far ahead at most. */
  private static final Duration HORIZON = Duration.ofDays(366);

  private static final int MAX_CHAIN = 10_000;

  /** Cron starts looked at within one window's duration (a start every minute for a week). */
  private static final int MAX_STEPS = 10_080;

  /**
   * One window.
   *
   * @param name the window's name, or the first open one's when several merge
   * @param priority the priority while open, or null when the window raises none
   */
  public record Window(String name, Instant start, Instant end, Integer priority) {}

  /**
   * The schedule at one instant.
   *
   * @param current the window open now (overlapping and touching windows merged), or null
   * @param next the next window to open after the current one ends (or after now), or null
   * @param nextEdge the next instant at which a window opens or closes, or null when none will
   * @param errors why windows were left out, one sentence each; empty when all are valid
   */
  public record State(Window current, Window next, Instant nextEdge, List<String> errors) {
    public static final State NONE = new State(null, null, null, List.of());

    public boolean open() {
      return current != null;
    }

    public boolean pinned(boolean own) {
      return own || open();
    }

    public int priority(int own) {
      return current == null || current.priority() == null
          ? own
          : Math.max(own, current.priority());
    }

    public Optional<Duration> untilNextEdge(Instant now) {
      return nextEdge == null ? Optional.empty() : Optional.of(Duration.between(now, nextEdge));
    }
  }

  private PinSchedule() {}

  public static State at(ScheduleSpec spec, Instant now) {
    if (spec == null || spec.windows == null || spec.windows.isEmpty()) {
      return State.NONE;
    }
    List<String> errors = new ArrayList<>();
    ZoneId zone;
    try {
      zone = ZoneId.of(spec.timeZone == null || spec.timeZone.isBlank() ? "UTC" : spec.timeZone);
    } catch (DateTimeException e) {
      return new State(
          null,
          null,
          null,
          List.of(
              "timeZone '" + spec.timeZone + "' is not an IANA time zone such as Europe/Berlin"));
    }
    List<Series> series = new ArrayList<>();
    for (int i = 0; i < spec.windows.size(); i++) {
      var w = spec.windows.get(i);
      try {
        series.add(Series.of(w, zone));
      } catch (IllegalArgumentException | DateTimeException e) {
        errors.add("window " + label(w, i) + ": " + e.getMessage());
      }
    }
    Window current = current(series, now);
    Instant from = current == null ? now : current.end();
    Window next =
        current != null && !current.end().isBefore(now.plus(HORIZON))
            ? null
            : series.stream()
                .map(s -> s.firstStartingAfter(from))
                .flatMap(Optional::stream)
                .min(Comparator.comparing(Window::start))
                .orElse(null);
    Instant edge =
        series.stream()
            .map(s -> s.nextEdge(now))
            .flatMap(Optional::stream)
            .min(Comparator.naturalOrder())
            .orElse(null);
    return new State(current, next, edge, List.copyOf(errors));
  }

  private static Window current(List<Series> series, Instant now) {
    List<Window> open = series.stream().map(s -> s.openAt(now)).flatMap(Optional::stream).toList();
    if (open.isEmpty()) {
      return null;
    }
    Instant start = open.stream().map(Window::start).min(Comparator.naturalOrder()).get();
    Instant end = open.stream().map(Window::end).max(Comparator.naturalOrder()).get();
    Integer priority =
        open.stream()
            .map(Window::priority)
            .filter(p -> p != null)
            .max(Comparator.naturalOrder())
            .orElse(null);
    // A window that opens before the current one closes continues it: one pin, no edge between.
    Instant limit = now.plus(HORIZON);
    for (int i = 0; i < MAX_CHAIN && end.isBefore(limit); i++) {
      var later = chainFrom(series, end);
      if (later.isEmpty()) {
        break;
      }
      end = later.get();
    }
    return new Window(open.get(0).name(), start, end, priority);
  }

  /** The latest end among windows that open at or before {@code reached} and close after it. */
  private static Optional<Instant> chainFrom(List<Series> series, Instant reached) {
    return series.stream()
        .map(s -> s.openAt(reached))
        .flatMap(Optional::stream)
        .map(Window::end)
        .filter(e -> e.isAfter(reached))
        .max(Comparator.naturalOrder());
  }

  private static String label(ScheduleWindowSpec w, int index) {
    return w.name != null ? "'" + w.name + "'" : "#" + (index + 1);
  }

  /** A window's occurrences: every cron firing with its duration, or one start and end. */
  private interface Series {
    Optional<Window> openAt(Instant at);

    Optional<Window> firstStartingAfter(Instant after);

    Optional<Instant> nextEdge(Instant after);

    static Series of(ScheduleWindowSpec w, ZoneId zone) {
      if (w.cron != null) {
        ExecutionTime times;
        try {
          times = ExecutionTime.forCron(CRON.parse(w.cron.trim()));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(
              "cron '" + w.cron + "' is not a five-field Unix cron expression: " + e.getMessage());
        }
        return new CronSeries(w.name, times, Durations.parse(w.duration), w.priority, zone);
      }
      Instant start = instant(w.start, zone, "start");
      Instant end = instant(w.end, zone, "end");
      if (!end.isAfter(start)) {
        throw new IllegalArgumentException("end " + w.end + " is not after start " + w.start);
      }
      return new OneOff(new Window(w.name, start, end, w.priority));
    }

    private static Instant instant(String text, ZoneId zone, String field) {
      if (text == null) {
        throw new IllegalArgumentException(field + " is missing");
      }
      try {
        return OffsetDateTime.parse(text.trim()).toInstant();
      } catch (DateTimeException offsetless) {
        try {
          // A local time in a daylight-saving gap moves forward by the gap's length.
          return ZonedDateTime.of(LocalDateTime.parse(text.trim()), zone).toInstant();
        } catch (DateTimeException e) {
          throw new IllegalArgumentException(
              field
                  + " '"
                  + text
                  + "' is neither a local date-time such as 2026-12-10T09:00 nor one with an"
                  + " offset");
        }
      }
    }
  }

  private record OneOff(Window window) implements Series {
    public Optional<Window> openAt(Instant at) {
      return !window.start().isAfter(at) && window.end().isAfter(at)
          ? Optional.of(window)
          : Optional.empty();
    }

    public Optional<Window> firstStartingAfter(Instant after) {
      return window.start().isAfter(after) ? Optional.of(window) : Optional.empty();
    }

    public Optional<Instant> nextEdge(Instant after) {
      if (window.start().isAfter(after)) {
        return Optional.of(window.start());
      }
      return window.end().isAfter(after) ? Optional.of(window.end()) : Optional.empty();
    }
  }

  private record CronSeries(
      String name, ExecutionTime times, Duration duration, Integer priority, ZoneId zone)
      implements Series {
    public Optional<Window> openAt(Instant at) {
      // The latest start in (at - duration, at], found forwards only: cron-utils' lastExecution
      // disagrees with nextExecution about a local time that occurs twice in a fall-back night.
      Window latest = null;
      Instant from = at.minus(duration);
      for (int i = 0; i < MAX_STEPS; i++) {
        var start = firstStartingAfter(from);
        if (start.isEmpty() || start.get().start().isAfter(at)) {
          break;
        }
        latest = start.get();
        from = latest.start();
      }
      return Optional.ofNullable(latest);
    }

    public Optional<Window> firstStartingAfter(Instant after) {
      var from = ZonedDateTime.ofInstant(after, zone);
      for (int i = 0; i < MAX_STEPS; i++) {
        var start = times.nextExecution(from);
        if (start.isEmpty()) {
          return Optional.empty();
        }
        // A local time that occurs twice (a fall-back night) starts a window once, at the first.
        if (start.get().equals(start.get().withEarlierOffsetAtOverlap())
            && start.get().toInstant().isAfter(after)) {
          var at = start.get().toInstant();
          return Optional.of(new Window(name, at, at.plus(duration), priority));
        }
        from = start.get();
      }
      return Optional.empty();
    }

    public Optional<Instant> nextEdge(Instant after) {
      var nextStart = firstStartingAfter(after).map(Window::start);
      var end = openAt(after).map(Window::end);
      if (end.isPresent() && (nextStart.isEmpty() || end.get().isBefore(nextStart.get()))) {
        return end;
      }
      return nextStart;
    }
  }
}
