package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class RayPodSecurityTest {

  static Stream<Arguments> templates() {
    return Stream.of(
        Arguments.of(
            "a bare template gets every restriction",
            "spec: {containers: [{name: ray-worker}, {name: sidecar}]}",
            false,
            "spec: {automountServiceAccountToken: false,"
                + " securityContext: {seccompProfile: {type: RuntimeDefault}},"
                + " containers: [{name: ray-worker, securityContext: {allowPrivilegeEscalation:"
                + " false, capabilities: {drop: [ALL]}}}, {name: sidecar}]}"),
        Arguments.of(
            "a pod that needs its token keeps it",
            "spec: {containers: [{name: ray-worker}]}",
            true,
            "spec: {securityContext: {seccompProfile: {type: RuntimeDefault}},"
                + " containers: [{name: ray-worker, securityContext: {allowPrivilegeEscalation:"
                + " false, capabilities: {drop: [ALL]}}}]}"),
        Arguments.of(
            "what the user's template set is kept",
            "spec: {automountServiceAccountToken: true,"
                + " securityContext: {runAsUser: 1000, seccompProfile: {type: Unconfined}},"
                + " containers: [{name: ray-worker, securityContext: {capabilities: {add:"
                + " [SYS_PTRACE]}}}]}",
            false,
            "spec: {automountServiceAccountToken: true,"
                + " securityContext: {runAsUser: 1000, seccompProfile: {type: Unconfined}},"
                + " containers: [{name: ray-worker, securityContext: {capabilities: {add:"
                + " [SYS_PTRACE]}, allowPrivilegeEscalation: false}}]}"),
        Arguments.of(
            "a privileged container is left as asked (Kubernetes refuses it without escalation)",
            "spec: {containers: [{name: ray-worker, securityContext: {privileged: true}}]}",
            false,
            "spec: {automountServiceAccountToken: false,"
                + " securityContext: {seccompProfile: {type: RuntimeDefault}},"
                + " containers: [{name: ray-worker, securityContext: {privileged: true}}]}"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("templates")
  void restrictionsAreDefaultsTheTemplateMayChange(
      String description, String template, boolean token, String expected) {
    var input = yaml(template);
    var copy = yaml(template);
    assertThat(RayPodSecurity.harden(input, "ray-worker", token)).isEqualTo(yaml(expected));
    assertThat(input).as("the input is left unchanged").isEqualTo(copy);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> yaml(String text) {
    return Serialization.unmarshal(text, Map.class);
  }
}
