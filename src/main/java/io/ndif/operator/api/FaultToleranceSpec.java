package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class FaultToleranceSpec {
  @JsonPropertyDescription(
      "External Redis for KubeRay's GCS fault tolerance. Without it, the gateway's job store"
          + " (gateway.store) serves when one is named, unless useGatewayStore is false.")
  public RedisSpec redis;

  @JsonPropertyDescription(
      "Turn on KubeRay's GCS fault tolerance with the gateway's job store (gateway.store) when"
          + " redis is not given, so that replicas on workers keep serving while the head"
          + " restarts. Default true. Takes effect when the head pod is next created.")
  public Boolean useGatewayStore;

  public boolean usesGatewayStore() {
    return useGatewayStore == null || useGatewayStore;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class RedisSpec {
    @JsonPropertyDescription("Redis address, host:port.")
    @io.fabric8.generator.annotation.Required
    public String address;

    @JsonPropertyDescription("Secret key holding the Redis password.")
    public io.fabric8.kubernetes.api.model.SecretKeySelector passwordSecretRef;
  }
}
