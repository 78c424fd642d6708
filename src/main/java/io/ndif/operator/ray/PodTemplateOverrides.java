package io.ndif.operator.ray;

import static io.ndif.operator.api.Constants.GPU_RESOURCE;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Merges a user's partial pod template into the one the operator generated. The override may add to
 * the template, never change what the operator set: maps merge key by key, lists of named entries
 * (containers, volumes, env, mounts, ports, pull secrets) merge entry by entry, other lists are
 * appended, and a value the operator set that the override sets differently is a conflict. The
 * operator's value is kept in the merged template either way; the caller refuses to apply a
 * template with conflicts.
 */
public final class PodTemplateOverrides {
  /** Lists whose entries are matched by name. */
  private static final Set<String> NAMED_LISTS =
      Set.of(
          "containers",
          "initContainers",
          "ephemeralContainers",
          "volumes",
          "env",
          "volumeMounts",
          "volumeDevices",
          "ports",
          "imagePullSecrets",
          "resourceClaims");

  /** Where an operator-set value comes from, for the conflict message. */
  private static final Map<String, String> HINTS =
      Map.of(
          "image", "set the image of the pool or head, or spec.image",
          "resources", "set the pool's or head's resources",
          "nodeSelector", "set the pool's or head's nodeSelector",
          "labels", "the operator's labels select the cluster's pods");

  private PodTemplateOverrides() {}

  /**
   * @param template the merged template; the operator's values where they conflict
   * @param conflicts one sentence per conflicting field, naming its path; empty when none
   */
  public record Result(Map<String, Object> template, List<String> conflicts) {}

  /**
   * @param generated the operator's template, as a JSON map (left unchanged)
   * @param override the user's partial template, or null
   */
  public static Result merge(Map<String, Object> generated, Map<String, Object> override) {
    List<String> conflicts = new ArrayList<>();
    if (override == null || override.isEmpty()) {
      return new Result(generated, conflicts);
    }
    override.keySet().stream()
        .filter(k -> !k.equals("metadata") && !k.equals("spec"))
        .forEach(k -> conflicts.add(k + ": a pod template has only metadata and spec"));
    if (override.get("metadata") instanceof Map<?, ?> metadata) {
      metadata.keySet().stream()
          .filter(k -> !k.equals("labels") && !k.equals("annotations"))
          .forEach(
              k -> conflicts.add("metadata." + k + ": only labels and annotations can be added"));
    }
    Map<String, Object> merged = mergeMaps(generated, override, "", conflicts);
    gpuResources(override, "", conflicts);
    return new Result(merged, conflicts);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> mergeMaps(
      Map<String, Object> base, Map<String, Object> extra, String path, List<String> conflicts) {
    Map<String, Object> merged = new LinkedHashMap<>(base);
    extra.forEach(
        (key, value) -> {
          String at = path.isEmpty() ? key : path + "." + key;
          Object mine = base.get(key);
          if (mine == null || value == null) {
            if (value != null) {
              merged.put(key, value);
            }
          } else if (mine instanceof Map<?, ?> m && value instanceof Map<?, ?> v) {
            merged.put(
                key, mergeMaps((Map<String, Object>) m, (Map<String, Object>) v, at, conflicts));
          } else if (mine instanceof List<?> m && value instanceof List<?> v) {
            merged.put(
                key,
                NAMED_LISTS.contains(key)
                    ? mergeNamed((List<Object>) m, (List<Object>) v, at, conflicts)
                    : append((List<Object>) m, (List<Object>) v));
          } else if (!sameScalar(mine, value) && !key.equals(GPU_RESOURCE)) {
            conflicts.add(conflict(at, key, mine, value));
          }
        });
    return merged;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> mergeNamed(
      List<Object> base, List<Object> extra, String path, List<String> conflicts) {
    List<Object> merged = new ArrayList<>(base);
    for (Object entry : extra) {
      String name = nameOf(entry);
      if (name == null) {
        conflicts.add(path + ": every entry needs a name to be merged");
        continue;
      }
      int index = indexOf(merged, name);
      if (index < 0) {
        merged.add(entry);
      } else {
        merged.set(
            index,
            mergeMaps(
                (Map<String, Object>) merged.get(index),
                (Map<String, Object>) entry,
                path + "[" + name + "]",
                conflicts));
      }
    }
    return merged;
  }

  private static List<Object> append(List<Object> base, List<Object> extra) {
    List<Object> merged = new ArrayList<>(base);
    extra.stream().filter(e -> !merged.contains(e)).forEach(merged::add);
    return merged;
  }

  /** GPUs come from the pool's gpusPerNode; an override may add them to no container. */
  @SuppressWarnings("unchecked")
  private static void gpuResources(Object value, String path, List<String> conflicts) {
    if (value instanceof Map<?, ?> map) {
      map.forEach(
          (k, v) -> {
            String key = String.valueOf(k);
            String at = path.isEmpty() ? key : path + "." + key;
            if ((path.endsWith(".limits") || path.endsWith(".requests"))
                && key.equals(GPU_RESOURCE)) {
              conflicts.add(at + ": GPUs are set by the operator from the pool's gpusPerNode");
            } else {
              gpuResources(v, at, conflicts);
            }
          });
    } else if (value instanceof List<?> list) {
      for (Object entry : list) {
        String name = nameOf(entry);
        gpuResources(entry, path + "[" + (name == null ? "?" : name) + "]", conflicts);
      }
    }
  }

  private static String conflict(String path, String key, Object mine, Object theirs) {
    String field = path.contains(".resources.") ? "resources" : key;
    for (String part : path.split("\\.")) {
      if (HINTS.containsKey(part)) {
        field = part;
        break;
      }
    }
    String hint = HINTS.get(field);
    return path
        + ": the operator sets "
        + quoted(mine)
        + ", the override "
        + quoted(theirs)
        + (hint == null ? "" : " (" + hint + ")");
  }

  private static String quoted(Object value) {
    return value instanceof String ? "\"" + value + "\"" : String.valueOf(value);
  }

  /** Numbers compare by value: 8 from YAML and 8.0 from a quantity are one setting. */
  private static boolean sameScalar(Object a, Object b) {
    if (a instanceof Number x && b instanceof Number y) {
      return x.doubleValue() == y.doubleValue();
    }
    return Objects.equals(a, b) || Objects.equals(String.valueOf(a), String.valueOf(b));
  }

  private static String nameOf(Object entry) {
    if (!(entry instanceof Map<?, ?> map)) {
      return null;
    }
    Object name = map.get("name");
    if (name == null && map.get("containerPort") != null) {
      name = map.get("containerPort");
    }
    return name == null ? null : String.valueOf(name);
  }

  private static int indexOf(List<Object> entries, String name) {
    for (int i = 0; i < entries.size(); i++) {
      if (name.equals(nameOf(entries.get(i)))) {
        return i;
      }
    }
    return -1;
  }
}
