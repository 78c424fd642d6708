package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class StatusPacingTest {
  private final StatusPacing pacing = new StatusPacing();
  private final Instant t0 = Instant.parse("2026-12-02T10:00:00Z");

  @Test
  void aClusterNeverWrittenWaitsForNothing() {
    assertThat(pacing.waitBefore("ns/a", t0)).isZero();
  }

  @Test
  void aWriteHoldsTheNextOneForTheRestOfTheInterval() {
    pacing.wrote("ns/a", t0);

    assertThat(pacing.waitBefore("ns/a", t0.plusMillis(300))).isEqualTo(Duration.ofMillis(700));
    assertThat(pacing.waitBefore("ns/a", t0.plus(StatusPacing.MINIMUM_INTERVAL))).isZero();
    assertThat(pacing.waitBefore("ns/a", t0.plusSeconds(5))).isZero();
    assertThat(pacing.waitBefore("ns/b", t0.plusMillis(300))).isZero();
  }
}
