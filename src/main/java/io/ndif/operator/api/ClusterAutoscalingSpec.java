package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ClusterAutoscalingSpec {
  @JsonPropertyDescription(
      "Operator (default): the operator sizes each pool between minNodes and maxNodes; Ray:"
          + " KubeRay's in-tree autoscaler; Disabled: each pool runs exactly nodes.")
  @Default("Operator")
  public AutoscalingMode mode;

  @JsonPropertyDescription("Seconds an idle node is kept before it is removed (Ray mode).")
  @Min(0)
  public Integer idleTimeoutSeconds;
}
