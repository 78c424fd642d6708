package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value =
        "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas",
    message = "minReplicas must not exceed maxReplicas")
public class ReplicaAutoscalingSpec {
  @Min(0)
  public Integer minReplicas;

  @Min(1)
  public Integer maxReplicas;

  @JsonPropertyDescription("Ongoing requests per replica that Serve aims for.")
  @Min(0)
  public Double targetOngoingRequests;
}
