package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class OnDemandModelSpec {
  @JsonPropertyDescription(
      "A Hugging Face repository id (org/model), or a pattern where * stands for any characters"
          + " but / and ? for one (org/*, org/llama-3.?-8b).")
  @Required
  @Pattern("^[A-Za-z0-9*?][A-Za-z0-9._*?-]*(/[A-Za-z0-9._*?-]+)?$")
  @Size(max = 128)
  public String repoId;

  @JsonPropertyDescription("GPU memory of one replica, as ModelSpec.sizeBytes.")
  @ValidationRule(
      value = Quantities.POSITIVE_RULE,
      message = "sizeBytes must be a positive quantity such as 16Gi")
  @Size(max = 32)
  public String sizeBytes;

  @JsonPropertyDescription("Parameters, to estimate the size when sizeBytes is not given.")
  @Min(1)
  public Long parameters;

  @JsonPropertyDescription("Weights' dtype. Default bfloat16.")
  public ModelSpec.Dtype dtype;

  @JsonPropertyDescription("Resources of one replica.")
  public ReplicaResources resources;

  @JsonPropertyDescription("Longest time one request may run, in seconds.")
  @Min(1)
  public Integer executionTimeoutSeconds;
}
