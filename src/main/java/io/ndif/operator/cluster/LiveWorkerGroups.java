package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads a live RayCluster's worker groups. */
final class LiveWorkerGroups {
  private LiveWorkerGroups() {}

  @SuppressWarnings("unchecked")
  static Map<String, Map<String, Object>> byName(GenericKubernetesResource rayCluster) {
    Map<String, Map<String, Object>> groups = new LinkedHashMap<>();
    if (rayCluster == null
        || !(rayCluster.getAdditionalProperties().get("spec") instanceof Map<?, ?> spec)) {
      return groups;
    }
    if (spec.get("workerGroupSpecs") instanceof List<?> list) {
      for (Object item : list) {
        if (item instanceof Map<?, ?> group && group.get("groupName") instanceof String name) {
          groups.put(name, (Map<String, Object>) group);
        }
      }
    }
    return groups;
  }

  static Map<String, Integer> replicas(GenericKubernetesResource rayCluster) {
    Map<String, Integer> replicas = new LinkedHashMap<>();
    byName(rayCluster)
        .forEach(
            (name, group) -> {
              if (group.get("replicas") instanceof Number n) {
                replicas.put(name, n.intValue());
              }
            });
    return replicas;
  }
}
