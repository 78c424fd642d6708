package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ExternalClusterSpec {
  @JsonPropertyDescription(
      "Ray dashboard URL of an existing cluster, e.g. http://ray-head:8265; no RayCluster is"
          + " created.")
  @Pattern("^https?://.+")
  public String dashboardUrl;

  @JsonPropertyDescription(
      "Base URL of the cluster's Ray Serve HTTP proxy, e.g. http://ray-head:8000; used for"
          + " endpoints in status. Default: the dashboard's host on port 8000.")
  @Pattern("^https?://.+")
  public String serveUrl;

  @JsonPropertyDescription(
      "The Secret key that holds the cluster's Ray token (its RAY_AUTH_TOKEN), when its dashboard"
          + " requires one; the operator reads exactly this Secret and sends the token with every"
          + " dashboard call.")
  public io.fabric8.kubernetes.api.model.SecretKeySelector authTokenSecretRef;
}
