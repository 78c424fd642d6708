package io.ndif.operator.ray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The restrictions every Ray pod of the operator's gets unless the user's pod template says
 * otherwise: no service-account token (a key holder's code runs in these pods and must not reach
 * the API server as the pod), no privilege escalation, every capability dropped, and the runtime's
 * default seccomp profile. They are defaults, applied after the user's template is merged, so a
 * template that sets one of them (a workload that does need the token) keeps its own value.
 */
public final class RayPodSecurity {
  private RayPodSecurity() {}

  /**
   * @param template a merged pod template, as a JSON map (left unchanged)
   * @param rayContainer the name of the Ray container
   * @param serviceAccountToken whether the pod needs its token (KubeRay's autoscaler sidecar in the
   *     head calls the API server with it)
   */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> harden(
      Map<String, Object> template, String rayContainer, boolean serviceAccountToken) {
    Map<String, Object> hardened = new LinkedHashMap<>(template);
    Map<String, Object> spec = copy((Map<String, Object>) template.get("spec"));
    if (!serviceAccountToken) {
      spec.putIfAbsent("automountServiceAccountToken", false);
    }
    Map<String, Object> podSecurity = copy((Map<String, Object>) spec.get("securityContext"));
    podSecurity.putIfAbsent("seccompProfile", Map.of("type", "RuntimeDefault"));
    spec.put("securityContext", podSecurity);
    Object containers = spec.get("containers");
    if (containers instanceof List<?> list) {
      spec.put(
          "containers",
          list.stream()
              .map(
                  c -> {
                    Map<String, Object> container = (Map<String, Object>) c;
                    return rayContainer.equals(container.get("name"))
                        ? hardenContainer(container)
                        : container;
                  })
              .toList());
    }
    hardened.put("spec", spec);
    return hardened;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> hardenContainer(Map<String, Object> container) {
    Map<String, Object> hardened = new LinkedHashMap<>(container);
    Map<String, Object> security = copy((Map<String, Object>) container.get("securityContext"));
    if (Boolean.TRUE.equals(security.get("privileged"))) {
      // The template asked for everything; Kubernetes refuses privileged without escalation.
      return container;
    }
    security.putIfAbsent("allowPrivilegeEscalation", false);
    security.putIfAbsent("capabilities", Map.of("drop", List.of("ALL")));
    hardened.put("securityContext", security);
    return hardened;
  }

  private static Map<String, Object> copy(Map<String, Object> map) {
    return map == null ? new LinkedHashMap<>() : new LinkedHashMap<>(map);
  }
}
