package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class FaultToleranceSpec {
  @JsonPropertyDescription("External Redis for KubeRay's GCS fault tolerance.")
  public RedisSpec redis;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class RedisSpec {
    @JsonPropertyDescription("Redis address, host:port.")
    @io.fabric8.generator.annotation.Required
    public String address;

    @JsonPropertyDescription("Secret key holding the Redis password.")
    public io.fabric8.kubernetes.api.model.SecretKeySelector passwordSecretRef;
  }
}
