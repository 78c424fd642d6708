package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.observability.Conditions;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** A deployment's status and Events through a window's life, each step at an injected instant. */
class ScheduleReportTest {
  private static final String SPEC =
      """
      clusterRef: fleet
      model: {repoId: a/b}
      priority: 5
      schedule:
        timeZone: America/New_York
        windows:
        - {name: workshop, start: "2026-12-08T09:00", end: "2026-12-08T12:00", priority: 90}
        - {name: course, cron: "0 14 * * 2", duration: 2h}
      """;

  private static NdifDeploymentStatus at(String instant, NdifDeployment d) {
    var status =
        new DeploymentStatusBuilder(Clock.fixed(Instant.parse(instant), ZoneOffset.UTC))
            .build(d, null);
    d.setStatus(status);
    return status;
  }

  @Test
  void aWindowOpensAndClosesInStatusAndEvents() {
    var d = deployment(SPEC);

    var before = at("2026-12-08T13:00:00Z", d);
    assertThat(before.pinned).isFalse();
    assertThat(before.priority).isEqualTo(5);
    assertThat(before.schedule.current).isNull();
    assertThat(before.schedule.next.name).isEqualTo("workshop");
    assertThat(before.schedule.next.start).isEqualTo("2026-12-08T14:00:00Z");
    assertThat(Conditions.reason(before.conditions, "ScheduleValid")).isEqualTo("Valid");

    // 09:00 in New York: the workshop pins it and raises it to 90.
    var open = at("2026-12-08T14:00:00Z", d);
    assertThat(open.pinned).isTrue();
    assertThat(open.priority).isEqualTo(90);
    assertThat(open.schedule.current.end).isEqualTo("2026-12-08T17:00:00Z");
    assertThat(open.schedule.next.name).isEqualTo("course");
    assertThat(open.schedule.next.start).isEqualTo("2026-12-08T19:00:00Z");
    assertThat(DeploymentEvents.between(before, open))
        .extracting(e -> e.type() + " " + e.reason() + ": " + e.message())
        .containsExactly(
            "Normal WindowOpened: schedule window 'workshop' opened: pinned until"
                + " 2026-12-08T17:00:00Z, priority 90");
    assertThat(DeploymentEvents.between(open, at("2026-12-08T15:00:00Z", d))).isEmpty();

    var closed = at("2026-12-08T17:00:00Z", d);
    assertThat(closed.pinned).isFalse();
    assertThat(closed.priority).isEqualTo(5);
    assertThat(DeploymentEvents.between(open, closed))
        .extracting(e -> e.type() + " " + e.reason() + ": " + e.message())
        .containsExactly(
            "Normal WindowClosed: schedule window 'workshop' closed: no longer pinned; the next"
                + " opens 2026-12-08T19:00:00Z");
  }

  @Test
  void anInvalidWindowIsAConditionAndOneWarningAndTheOthersStillPin() {
    var d =
        deployment(
            """
            clusterRef: fleet
            model: {repoId: a/b}
            pinned: true
            schedule:
              windows:
              - {name: typo, cron: "0 9 * * 8", duration: 1h}
              - {start: "2026-12-08T09:00", end: "2026-12-08T12:00"}
            """);
    var first = at("2026-12-08T10:00:00Z", d);
    assertThat(Conditions.isTrue(first.conditions, "ScheduleValid")).isFalse();
    assertThat(Conditions.find(first.conditions, "ScheduleValid").get().getMessage())
        .startsWith("window 'typo': cron '0 9 * * 8' is not a five-field Unix cron expression")
        .endsWith("; the other windows apply");
    assertThat(first.schedule.current.end).isEqualTo("2026-12-08T12:00:00Z");
    assertThat(DeploymentEvents.between(null, first))
        .extracting(e -> e.type() + " " + e.reason())
        .contains("Warning InvalidSchedule", "Normal WindowOpened");
    var later = at("2026-12-08T11:00:00Z", d);
    assertThat(DeploymentEvents.between(first, later)).isEmpty();
    // spec.pinned keeps it pinned when the window closes, and the Event says so.
    var closed = at("2026-12-08T12:00:00Z", d);
    assertThat(closed.pinned).isTrue();
    assertThat(DeploymentEvents.between(later, closed))
        .extracting(e -> e.reason() + ": " + e.message())
        .containsExactly("WindowClosed: schedule window closed: still pinned by spec.pinned");
  }

  @Test
  void withoutAScheduleNothingIsReportedButThePin() {
    var d = deployment("clusterRef: fleet\nmodel: {repoId: a/b}\npinned: true\n");
    var status = at("2026-12-08T10:00:00Z", d);
    assertThat(status.pinned).isTrue();
    assertThat(status.priority).isZero();
    assertThat(status.schedule).isNull();
    assertThat(Conditions.find(status.conditions, "ScheduleValid")).isEmpty();
  }

  private static NdifDeployment deployment(String spec) {
    var d = new NdifDeployment();
    d.setMetadata(
        new ObjectMetaBuilder()
            .withName("m")
            .withNamespace("ns")
            .withGeneration(1L)
            .withCreationTimestamp("2026-12-01T00:00:00Z")
            .build());
    d.setSpec(Serialization.unmarshal(spec, NdifDeploymentSpec.class));
    return d;
  }
}
