package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

/** Weights of stopped models kept in host memory, so that they come back without their files. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class WarmTierSpec {
  @JsonPropertyDescription(
      "Host memory per Ray node for the weights of models that stopped there (preempted, scaled"
          + " down, idled out, deleted), held in Ray's shared-memory object store. Copies are"
          + " dropped lowest priority first, then least recently used, when a new one needs the"
          + " room. Keep it below the object store's size (Ray's default: 30% of the pod's"
          + " memory), or Ray spills copies to disk.")
  @ValidationRule(
      value = Quantities.POSITIVE_RULE,
      message = "warmTier.budget must be a positive quantity such as 32Gi")
  @Required
  @Size(max = 32)
  public String budget;

  public long budgetBytes() {
    return Quantities.bytes(budget);
  }
}
