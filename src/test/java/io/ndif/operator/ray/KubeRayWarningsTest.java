package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ManagedFieldsEntryBuilder;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.ndif.operator.ray.KubeRayWarnings.Warning;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class KubeRayWarningsTest {
  private static final String UID = "uid-1";
  private static final String CREATED = "2026-12-02T10:00:00Z";
  private static final String APPLIED = "2026-12-02T10:05:00Z";

  static Stream<Arguments> cases() {
    var invalid = warning("InvalidRayClusterSpec", "bad spec", "2026-12-02T10:05:00Z");
    return Stream.of(
        Arguments.of("no events", List.of(), List.of()),
        Arguments.of(
            "a warning at the second of the last apply stands",
            List.of(invalid),
            List.of(new Warning("InvalidRayClusterSpec", "bad spec"))),
        Arguments.of(
            "a warning before the last apply is about a replaced spec",
            List.of(warning("InvalidRayClusterSpec", "old", "2026-12-02T10:04:59Z")),
            List.of()),
        Arguments.of(
            "a Normal event after the warning means KubeRay since succeeded",
            List.of(
                warning("FailedToCreateWorkerPod", "quota", "2026-12-02T10:06:00Z"),
                normal("CreatedWorkerPod", "2026-12-02T10:07:00Z")),
            List.of()),
        Arguments.of(
            "a Normal event before the warning does not clear it",
            List.of(
                normal("CreatedHeadPod", "2026-12-02T10:05:30Z"),
                warning("FailedToCreateWorkerPod", "quota", "2026-12-02T10:06:00Z")),
            List.of(new Warning("FailedToCreateWorkerPod", "quota"))),
        Arguments.of(
            "another RayCluster's warning (another uid) is not this one's",
            List.of(withUid(invalid, "uid-2")),
            List.of()),
        Arguments.of(
            "an event about a pod is not about the RayCluster",
            List.of(withKind(invalid, "Pod")),
            List.of()),
        Arguments.of(
            "one warning per reason, the latest message",
            List.of(
                warning("InvalidRayClusterSpec", "first", "2026-12-02T10:06:00Z"),
                warning("InvalidRayClusterSpec", "second", "2026-12-02T10:07:00Z")),
            List.of(new Warning("InvalidRayClusterSpec", "second"))),
        Arguments.of(
            "an event with only a micro-time eventTime (events.k8s.io) is dated by it",
            List.of(
                microTime(
                    warning("InvalidRayClusterSpec", "new API", null),
                    "2026-12-02T10:05:00.250000Z")),
            List.of(new Warning("InvalidRayClusterSpec", "new API"))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void standingWarnings(String name, List<Event> events, List<Warning> expected) {
    assertThat(KubeRayWarnings.standing(events, rayCluster(), "ndif-operator"))
        .containsExactlyElementsOf(expected);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void withoutARayClusterNothingStands(String name, List<Event> events, List<Warning> expected) {
    assertThat(KubeRayWarnings.standing(events, null, "ndif-operator")).isEmpty();
  }

  @org.junit.jupiter.api.Test
  void theSpecIsDatedByTheOperatorsOwnManagedFieldsNotAnothersOrTheCreation() {
    var cluster = rayCluster();
    assertThat(KubeRayWarnings.lastApplied(cluster, "ndif-operator"))
        .isEqualTo(java.time.Instant.parse(APPLIED));
    assertThat(KubeRayWarnings.lastApplied(cluster, "someone-else"))
        .isEqualTo(java.time.Instant.parse(CREATED));
  }

  private static GenericKubernetesResource rayCluster() {
    var cluster = new GenericKubernetesResource();
    cluster.setMetadata(
        new ObjectMetaBuilder()
            .withName("fleet")
            .withUid(UID)
            .withCreationTimestamp(CREATED)
            .withManagedFields(
                new ManagedFieldsEntryBuilder()
                    .withManager("ndif-operator")
                    .withOperation("Apply")
                    .withTime(APPLIED)
                    .build(),
                new ManagedFieldsEntryBuilder()
                    .withManager("kuberay-operator")
                    .withOperation("Update")
                    .withTime("2026-12-02T11:00:00Z")
                    .withSubresource("status")
                    .build())
            .build());
    return cluster;
  }

  private static Event warning(String reason, String message, String at) {
    return event("Warning", reason, message, at);
  }

  private static Event normal(String reason, String at) {
    return event("Normal", reason, "ok", at);
  }

  private static Event event(String type, String reason, String message, String at) {
    return new EventBuilder()
        .withNewMetadata()
        .withName(reason + "-" + at)
        .withNamespace("ns")
        .endMetadata()
        .withNewInvolvedObject()
        .withKind("RayCluster")
        .withName("fleet")
        .withUid(UID)
        .endInvolvedObject()
        .withType(type)
        .withReason(reason)
        .withMessage(message)
        .withLastTimestamp(at)
        .build();
  }

  private static Event withUid(Event e, String uid) {
    return new EventBuilder(e).editInvolvedObject().withUid(uid).endInvolvedObject().build();
  }

  private static Event withKind(Event e, String kind) {
    return new EventBuilder(e).editInvolvedObject().withKind(kind).endInvolvedObject().build();
  }

  private static Event microTime(Event e, String at) {
    return new EventBuilder(e).withLastTimestamp(null).withNewEventTime(at).build();
  }
}
