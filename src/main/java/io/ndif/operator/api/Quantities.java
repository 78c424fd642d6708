package io.ndif.operator.api;

import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;

/** Quantity helpers shared by the API's validation rules and the controllers. */
public final class Quantities {
  /** CEL: an int-or-string field that holds a quantity greater than zero. */
  public static final String POSITIVE_RULE =
      "type(self) == int ? self > 0 : (isQuantity(self) &&"
          + " quantity(self).isGreaterThan(quantity('0')))";

  private Quantities() {}

  public static BigDecimal bytes(Quantity quantity) {
    return quantity == null ? BigDecimal.ZERO : quantity.getNumericalAmount();
  }
}
