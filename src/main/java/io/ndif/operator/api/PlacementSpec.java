package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class PlacementSpec {
  @JsonPropertyDescription("Pool of the cluster to run in; default: best fit.")
  @Pattern(PoolSpec.DNS_LABEL)
  public String pool;
}
