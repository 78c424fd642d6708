package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.ndif.operator.observability.EventRecorder.Type;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.Test;

@EnableKubernetesMockClient(crud = true)
class EventRecorderTest {
  static KubernetesClient client;

  private final MutableClock clock = new MutableClock(Instant.parse("2026-12-02T10:00:00Z"));

  @Test
  void anIdenticalEventRaisesTheCountOfTheFirst() {
    var recorder = new EventRecorder(client, clock, Runnable::run);
    var object = object("same");
    recorder.record(object, Type.Warning, "HeadPodFailing", "the head pod is crash looping");
    clock.advance(Duration.ofSeconds(30));
    recorder.record(object, Type.Warning, "HeadPodFailing", "the head pod is crash looping");
    recorder.record(object, Type.Warning, "HeadPodFailing", "the head pod is crash looping");

    var events = eventsOf("same");
    assertThat(events).hasSize(1);
    assertThat(events.get(0).getCount()).isEqualTo(3);
    assertThat(events.get(0).getFirstTimestamp()).isEqualTo("2026-12-02T10:00:00Z");
    assertThat(events.get(0).getLastTimestamp()).isEqualTo("2026-12-02T10:00:30Z");
  }

  @Test
  void differentReasonsOrObjectsAreEventsOfTheirOwn() {
    var recorder = new EventRecorder(client, clock, Runnable::run);
    recorder.record(object("a"), Type.Normal, "Admitted", "admitted to pool a100");
    recorder.record(object("a"), Type.Normal, "Ready", "1 replica(s) running");
    recorder.record(object("b"), Type.Normal, "Admitted", "admitted to pool a100");

    assertThat(eventsOf("a"))
        .extracting(Event::getReason)
        .containsExactlyInAnyOrder("Admitted", "Ready");
    assertThat(eventsOf("b")).extracting(Event::getCount).containsExactly(1);
  }

  @Test
  void manyMessagesOfOneReasonAreCombinedIntoOneEvent() {
    var recorder = new EventRecorder(client, clock, Runnable::run);
    var object = object("backoff");
    for (int i = 1; i <= 15; i++) {
      recorder.record(object, Type.Warning, "HeadPodFailing", "back-off " + i * 10 + "s");
      clock.advance(Duration.ofSeconds(10));
    }

    var events = eventsOf("backoff");
    assertThat(events).hasSize(EventRecorder.SIMILAR_LIMIT + 1);
    var combined =
        events.stream().filter(e -> e.getMessage().startsWith(EventRecorder.COMBINED)).toList();
    assertThat(combined).hasSize(1);
    assertThat(combined.get(0).getCount()).isEqualTo(5);
    assertThat(combined.get(0).getMessage()).isEqualTo(EventRecorder.COMBINED + "back-off 150s");
  }

  @Test
  void theWindowOfSimilarEventsMovesOn() {
    var recorder = new EventRecorder(client, clock, Runnable::run);
    var object = object("slow");
    for (int i = 1; i <= 15; i++) {
      recorder.record(object, Type.Warning, "HeadPodFailing", "back-off " + i);
      clock.advance(EventRecorder.SIMILAR_WINDOW.dividedBy(5));
    }

    assertThat(eventsOf("slow")).hasSize(15).noneMatch(e -> e.getMessage().startsWith("("));
  }

  @Test
  void anEventTheServerNoLongerHasIsMadeAgain() {
    var recorder = new EventRecorder(client, clock, Runnable::run);
    var object = object("expired");
    recorder.record(object, Type.Normal, "Ready", "ready");
    client.v1().events().inNamespace("ns").delete();
    recorder.record(object, Type.Normal, "Ready", "ready");

    assertThat(eventsOf("expired")).extracting(Event::getCount).containsExactly(1);
  }

  private static ConfigMap object(String name) {
    return new ConfigMapBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("ns")
        .withUid("uid-" + name)
        .endMetadata()
        .build();
  }

  private static List<Event> eventsOf(String name) {
    return client.v1().events().inNamespace("ns").list().getItems().stream()
        .filter(e -> name.equals(e.getInvolvedObject().getName()))
        .sorted(Comparator.comparing(Event::getFirstTimestamp))
        .toList();
  }

  private static final class MutableClock extends Clock {
    private Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    void advance(Duration by) {
      now = now.plus(by);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }
  }
}
