package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class DedicatedSpec {
  @JsonPropertyDescription("The RayService's GPU pool, same shape as an NdifCluster pool.")
  public PoolSpec pool;

  @JsonPropertyDescription("RayService upgrade strategy.")
  public UpgradeStrategy upgradeStrategy;

  public enum UpgradeStrategy {
    NewCluster,
    None
  }
}
