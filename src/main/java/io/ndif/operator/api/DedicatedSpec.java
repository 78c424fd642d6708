package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class DedicatedSpec {
  @JsonPropertyDescription("The RayService's GPU pool, same shape as an NdifCluster pool.")
  public PoolSpec pool;

  @JsonPropertyDescription(
      "Ray container image of the RayService's head and workers (the pool's image overrides it"
          + " for workers); it must carry the Serve application, see serve/ in the project."
          + " Default: rayproject/ray:2.52.0-gpu.")
  @io.fabric8.generator.annotation.Size(max = 512)
  public String image;

  @JsonPropertyDescription(
      "Ray's token authentication of the RayService's cluster (KubeRay's authOptions): Token"
          + " (default; KubeRay keeps the token in a Secret and uses it for its own calls) or"
          + " Disabled (RAY_AUTH_MODE=disabled in every Ray container). A change rolls the"
          + " RayService to a new cluster, as any change of its cluster does.")
  @io.fabric8.generator.annotation.Default("Token")
  public NdifClusterSpec.RayAuthMode rayAuth;

  @JsonPropertyDescription("Ray version of the RayService's cluster (KubeRay's rayVersion).")
  @io.fabric8.generator.annotation.Size(max = 32)
  public String rayVersion;

  @JsonPropertyDescription(
      "NDIF's API for this model on its own RayService (as spec.gateway of an NdifCluster; the"
          + " key Secret defaults to <deployment>-api-keys). It runs on the RayService's head.")
  @io.fabric8.generator.annotation.ValidationRule(
      value = "!has(self.placement) && !has(self.workers)",
      message =
          "a Dedicated deployment's gateway runs on its RayService's head: placement and workers"
              + " are for NdifClusters")
  public GatewaySpec gateway;

  @JsonPropertyDescription(
      "The Hugging Face cache of the RayService's pods, as spec.modelCache of an NdifCluster.")
  public ModelCacheSpec modelCache;

  @JsonPropertyDescription("RayService upgrade strategy.")
  public UpgradeStrategy upgradeStrategy;

  public enum UpgradeStrategy {
    NewCluster,
    None
  }
}
