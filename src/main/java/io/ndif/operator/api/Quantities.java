package io.ndif.operator.api;

import io.fabric8.kubernetes.api.model.Quantity;

/** Quantity helpers shared by the API's validation rules and the controllers. */
public final class Quantities {
  /** CEL: a quantity string (at most 32 characters, so the rule's cost is bounded) above zero. */
  public static final String POSITIVE_RULE =
      "isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))";

  private Quantities() {}

  /** Bytes of a quantity string the API server has validated, or null when absent. */
  public static Long bytes(String quantity) {
    return quantity == null ? null : new Quantity(quantity).getNumericalAmount().longValue();
  }
}
