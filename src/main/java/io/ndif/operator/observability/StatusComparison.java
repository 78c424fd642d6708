package io.ndif.operator.observability;

import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Objects;

/** Compares two status objects by their JSON form, so that steady state writes nothing. */
public final class StatusComparison {
  private StatusComparison() {}

  public static boolean same(Object stored, Object computed) {
    if (stored == null || computed == null) {
      return Objects.equals(stored, computed);
    }
    var mapper = Serialization.jsonMapper();
    return mapper.valueToTree(stored).equals(mapper.valueToTree(computed));
  }
}
