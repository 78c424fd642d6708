package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
// A minimum of 0.01 would not do: the API server compares integer input with an integer-truncated
// minimum, so `gpus: 0` would pass it.
@ValidationRule(
    value = "!has(self.gpus) || self.gpus > 0.0",
    message = "gpus must be greater than 0")
@ValidationRule(
    value = "!has(self.gpus) || self.gpus < 1.0 || self.gpus == double(int(self.gpus))",
    message = "gpus above 1 must be a whole number; only a fraction below 1 shares a GPU")
public class ReplicaResources {
  @JsonPropertyDescription(
      "GPUs per replica; a fraction below 1 shares a GPU. Default: estimated from the model size.")
  public Double gpus;

  @JsonPropertyDescription("Memory padding added to the size estimate.")
  public Padding padding;

  @JsonPropertyDescription("CPUs per replica.")
  @Min(0)
  public Double cpus;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Padding {
    @JsonPropertyDescription("Multiplier added to the weights' size (default 0.15).")
    @Min(0)
    public Double factor;

    @JsonPropertyDescription("Fixed memory added to the size (default 500Mi).")
    @ValidationRule(
        value = Quantities.POSITIVE_RULE,
        message = "padding.bias must be a positive quantity such as 500Mi")
    @io.fabric8.generator.annotation.Size(max = 32)
    public String bias;
  }
}
