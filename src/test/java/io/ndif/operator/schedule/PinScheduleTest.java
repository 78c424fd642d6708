package io.ndif.operator.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import io.ndif.operator.api.ScheduleSpec;
import io.ndif.operator.api.ScheduleWindowSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PinScheduleTest {

  static ScheduleWindowSpec cron(String cron, String duration) {
    var w = new ScheduleWindowSpec();
    w.cron = cron;
    w.duration = duration;
    return w;
  }

  static ScheduleWindowSpec once(String start, String end) {
    var w = new ScheduleWindowSpec();
    w.start = start;
    w.end = end;
    return w;
  }

  static ScheduleSpec in(String zone, ScheduleWindowSpec... windows) {
    var s = new ScheduleSpec();
    s.timeZone = zone;
    s.windows = List.of(windows);
    return s;
  }

  static Instant t(String instant) {
    return Instant.parse(instant);
  }

  /**
   * Each row: a schedule, the instant it is looked at, and the open window's start and end (both
   * null when closed), the next window's start, and the next edge.
   */
  static Stream<Arguments> table() {
    var weekdays = in("Europe/Berlin", cron("0 9 * * 1-5", "8h"));
    var daily9 = in("Europe/Berlin", cron("0 9 * * *", "8h"));
    var nightly = in("Europe/Berlin", cron("30 2 * * *", "1h"));
    var newYork = in("America/New_York", cron("0 8 * * *", "2h"));
    var lordHowe = in("Australia/Lord_Howe", cron("0 9 * * *", "1h"));
    return Stream.of(
        // Monday 2026-12-07, 10:00 CET: open since 09:00 CET, closes 17:00 CET; Tuesday next.
        Arguments.of(
            "weekday, open",
            weekdays,
            t("2026-12-07T09:00:00Z"),
            t("2026-12-07T08:00:00Z"),
            t("2026-12-07T16:00:00Z"),
            t("2026-12-08T08:00:00Z"),
            t("2026-12-07T16:00:00Z")),
        Arguments.of(
            "weekday, exactly at the start",
            weekdays,
            t("2026-12-07T08:00:00Z"),
            t("2026-12-07T08:00:00Z"),
            t("2026-12-07T16:00:00Z"),
            t("2026-12-08T08:00:00Z"),
            t("2026-12-07T16:00:00Z")),
        Arguments.of(
            "weekday, exactly at the end: closed",
            weekdays,
            t("2026-12-07T16:00:00Z"),
            null,
            null,
            t("2026-12-08T08:00:00Z"),
            t("2026-12-08T08:00:00Z")),
        // Friday evening: the next window is Monday's.
        Arguments.of(
            "weekday, weekend next",
            weekdays,
            t("2026-12-11T18:00:00Z"),
            null,
            null,
            t("2026-12-14T08:00:00Z"),
            t("2026-12-14T08:00:00Z")),
        // Spring forward (2027-03-28 in Berlin): 09:00 is CEST, 07:00Z, and lasts 8 real hours.
        Arguments.of(
            "spring forward, after the change",
            daily9,
            t("2027-03-28T08:00:00Z"),
            t("2027-03-28T07:00:00Z"),
            t("2027-03-28T15:00:00Z"),
            t("2027-03-29T07:00:00Z"),
            t("2027-03-28T15:00:00Z")),
        Arguments.of(
            "spring forward, the day before",
            daily9,
            t("2027-03-27T08:30:00Z"),
            t("2027-03-27T08:00:00Z"),
            t("2027-03-27T16:00:00Z"),
            t("2027-03-28T07:00:00Z"),
            t("2027-03-27T16:00:00Z")),
        // 02:30 does not exist on 2027-03-28 in Berlin: no window that night, the next is the 29th.
        Arguments.of(
            "spring forward, a skipped local time",
            nightly,
            t("2027-03-28T00:45:00Z"),
            null,
            null,
            t("2027-03-29T00:30:00Z"),
            t("2027-03-29T00:30:00Z")),
        // Fall back (2026-10-25 in Berlin): 02:30 happens twice; the window opens once, at the
        // first (CEST, 00:30Z), and lasts one real hour.
        Arguments.of(
            "fall back, the first 02:30",
            nightly,
            t("2026-10-25T00:40:00Z"),
            t("2026-10-25T00:30:00Z"),
            t("2026-10-25T01:30:00Z"),
            t("2026-10-26T01:30:00Z"),
            t("2026-10-25T01:30:00Z")),
        Arguments.of(
            "fall back, the second 02:30 opens nothing",
            nightly,
            t("2026-10-25T01:45:00Z"),
            null,
            null,
            t("2026-10-26T01:30:00Z"),
            t("2026-10-26T01:30:00Z")),
        // New York springs forward on 2027-03-14: 08:00 EDT is 12:00Z, the day before 13:00Z.
        Arguments.of(
            "New York, across its change",
            newYork,
            t("2027-03-13T20:00:00Z"),
            null,
            null,
            t("2027-03-14T12:00:00Z"),
            t("2027-03-14T12:00:00Z")),
        // Lord Howe moves by half an hour: 09:00 is +11:00 in January, +10:30 in July.
        Arguments.of(
            "Lord Howe, summer",
            lordHowe,
            t("2027-01-10T22:30:00Z"),
            t("2027-01-10T22:00:00Z"),
            t("2027-01-10T23:00:00Z"),
            t("2027-01-11T22:00:00Z"),
            t("2027-01-10T23:00:00Z")),
        Arguments.of(
            "Lord Howe, winter",
            lordHowe,
            t("2027-07-10T22:45:00Z"),
            t("2027-07-10T22:30:00Z"),
            t("2027-07-10T23:30:00Z"),
            t("2027-07-11T22:30:00Z"),
            t("2027-07-10T23:30:00Z")),
        // One-off windows in local time and with an offset.
        Arguments.of(
            "one-off local, before",
            in("Europe/Berlin", once("2026-12-10T09:00", "2026-12-10T17:00")),
            t("2026-12-07T12:00:00Z"),
            null,
            null,
            t("2026-12-10T08:00:00Z"),
            t("2026-12-10T08:00:00Z")),
        Arguments.of(
            "one-off with offset, open",
            in("Europe/Berlin", once("2026-12-10T09:00:00Z", "2026-12-10T10:00:00Z")),
            t("2026-12-10T09:30:00Z"),
            t("2026-12-10T09:00:00Z"),
            t("2026-12-10T10:00:00Z"),
            null,
            t("2026-12-10T10:00:00Z")),
        Arguments.of(
            "one-off, over",
            in("UTC", once("2026-12-01T09:00", "2026-12-01T10:00")),
            t("2026-12-07T12:00:00Z"),
            null,
            null,
            null,
            null),
        // A local start in the spring gap moves forward by the gap: 02:30 becomes 03:30 CEST.
        Arguments.of(
            "one-off in the spring gap",
            in("Europe/Berlin", once("2027-03-28T02:30", "2027-03-28T05:00")),
            t("2027-03-28T00:00:00Z"),
            null,
            null,
            t("2027-03-28T01:30:00Z"),
            t("2027-03-28T01:30:00Z")),
        // Touching and overlapping windows are one pin: no edge between them.
        Arguments.of(
            "touching windows merge",
            in(
                "UTC",
                once("2026-12-07T09:00", "2026-12-07T12:00"),
                once("2026-12-07T12:00", "2026-12-07T15:00"),
                once("2026-12-07T14:00", "2026-12-07T18:00")),
            t("2026-12-07T10:00:00Z"),
            t("2026-12-07T09:00:00Z"),
            t("2026-12-07T18:00:00Z"),
            null,
            t("2026-12-07T12:00:00Z")),
        Arguments.of(
            "a daily window longer than a day never closes within the horizon",
            in("UTC", cron("0 0 * * *", "25h")),
            t("2026-12-07T10:00:00Z"),
            t("2026-12-07T00:00:00Z"),
            t("2027-12-09T01:00:00Z"),
            null,
            t("2026-12-08T00:00:00Z")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("table")
  void windowsAtAnInstant(
      String name,
      ScheduleSpec spec,
      Instant now,
      Instant openStart,
      Instant openEnd,
      Instant nextStart,
      Instant nextEdge) {
    var state = PinSchedule.at(spec, now);
    assertThat(state.errors()).isEmpty();
    if (openStart == null) {
      assertThat(state.current()).isNull();
      assertThat(state.pinned(false)).isFalse();
    } else {
      assertThat(state.current().start()).isEqualTo(openStart);
      assertThat(state.current().end()).isEqualTo(openEnd);
      assertThat(state.pinned(false)).isTrue();
    }
    if (nextStart == null) {
      assertThat(state.next()).isNull();
    } else {
      assertThat(state.next().start()).isEqualTo(nextStart);
    }
    assertThat(state.nextEdge()).isEqualTo(nextEdge);
  }

  @Test
  void priorityIsRaisedOnlyWhileOpenAndNeverLowered() {
    var w = cron("0 9 * * *", "1h");
    w.priority = 50;
    var spec = in("UTC", w);
    assertThat(PinSchedule.at(spec, t("2026-12-07T09:30:00Z")).priority(10)).isEqualTo(50);
    assertThat(PinSchedule.at(spec, t("2026-12-07T09:30:00Z")).priority(80)).isEqualTo(80);
    assertThat(PinSchedule.at(spec, t("2026-12-07T10:30:00Z")).priority(10)).isEqualTo(10);
    assertThat(PinSchedule.at(spec, t("2026-12-07T10:30:00Z")).pinned(true)).isTrue();
  }

  @Test
  void theHighestPriorityOfTheOpenWindowsApplies() {
    var low = once("2026-12-07T09:00", "2026-12-07T12:00");
    low.priority = 5;
    var high = once("2026-12-07T10:00", "2026-12-07T11:00");
    high.priority = 40;
    var spec = in("UTC", low, high);
    assertThat(PinSchedule.at(spec, t("2026-12-07T09:30:00Z")).priority(0)).isEqualTo(5);
    assertThat(PinSchedule.at(spec, t("2026-12-07T10:30:00Z")).priority(0)).isEqualTo(40);
    assertThat(PinSchedule.at(spec, t("2026-12-07T09:30:00Z")).nextEdge())
        .isEqualTo(t("2026-12-07T10:00:00Z"));
  }

  @Test
  void badWindowsAreNamedAndTheOthersStillPin() {
    var typo = cron("0 25 * * *", "1h");
    typo.name = "course";
    var backwards = once("2026-12-07T12:00", "2026-12-07T09:00");
    var noDuration = cron("0 9 * * *", "0h");
    var good = once("2026-12-07T09:00", "2026-12-07T12:00");
    var state =
        PinSchedule.at(in("UTC", typo, backwards, noDuration, good), t("2026-12-07T10:00:00Z"));
    assertThat(state.errors())
        .hasSize(3)
        .anySatisfy(e -> assertThat(e).startsWith("window 'course': cron '0 25 * * *'"))
        .anySatisfy(e -> assertThat(e).startsWith("window #2: end").contains("is not after"))
        .anySatisfy(e -> assertThat(e).startsWith("window #3: duration '0h' is zero"));
    assertThat(state.open()).isTrue();
  }

  @Test
  void anUnknownTimeZoneIsOneSentenceAndPinsNothing() {
    var state =
        PinSchedule.at(in("Mars/Olympus", cron("* * * * *", "1h")), t("2026-12-07T10:00:00Z"));
    assertThat(state.errors())
        .containsExactly("timeZone 'Mars/Olympus' is not an IANA time zone such as Europe/Berlin");
    assertThat(state.open()).isFalse();
    assertThat(state.untilNextEdge(t("2026-12-07T10:00:00Z"))).isEmpty();
  }

  @Test
  void noScheduleIsNoWindow() {
    assertThat(PinSchedule.at(null, Instant.EPOCH)).isEqualTo(PinSchedule.State.NONE);
    assertThat(PinSchedule.State.NONE.untilNextEdge(Instant.EPOCH)).isEmpty();
    assertThat(
            PinSchedule.at(
                    in("UTC", once("2026-12-07T10:00", "2026-12-07T11:00")),
                    t("2026-12-07T09:00:00Z"))
                .untilNextEdge(t("2026-12-07T09:00:00Z")))
        .contains(Duration.ofHours(1));
  }
}
