package io.ndif.operator.ray;

import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Whether everything the operator wants is already in a live object. Server defaults (KubeRay's
 * {@code numOfHosts}, default pod fields) are extra in the live object and do not count; lists must
 * have the same length because KubeRay's lists are atomic.
 */
public final class SubsetMatch {
  private SubsetMatch() {}

  public static boolean contains(Object actual, Object desired) {
    if (desired == null) {
      return true;
    }
    if (desired instanceof Map<?, ?> want) {
      if (!(actual instanceof Map<?, ?> have)) {
        return false;
      }
      return want.entrySet().stream().allMatch(e -> contains(have.get(e.getKey()), e.getValue()));
    }
    if (desired instanceof List<?> want) {
      if (!(actual instanceof List<?> have) || have.size() != want.size()) {
        return false;
      }
      for (int i = 0; i < want.size(); i++) {
        if (!contains(have.get(i), want.get(i))) {
          return false;
        }
      }
      return true;
    }
    if (desired instanceof Number want && actual instanceof Number have) {
      return new BigDecimal(want.toString()).compareTo(new BigDecimal(have.toString())) == 0;
    }
    return Objects.equals(desired, actual);
  }
}
