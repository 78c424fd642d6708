package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import java.util.List;

/**
 * A NetworkPolicy for a managed cluster's Ray pods. It takes effect only where the cluster's
 * network plugin enforces NetworkPolicies.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class NetworkPolicySpec {
  @JsonPropertyDescription(
      "Create a NetworkPolicy <cluster>-ray that admits to the Ray pods only each other, the"
          + " gateway's port (Serve's 8000) from anywhere, the dashboard (8265) from"
          + " dashboardFrom and the metrics port (8080) from metricsFrom.")
  @Default("false")
  public Boolean enabled;

  @JsonPropertyDescription(
      "Who may call the Ray dashboard (8265): the operator's pods (a namespaceSelector and"
          + " podSelector), or, when the operator goes through the API server's service proxy, the"
          + " API server's addresses (ipBlock). Empty: nobody outside the Ray pods.")
  @Size(max = 32)
  public List<NetworkPolicyPeer> dashboardFrom;

  @JsonPropertyDescription("Who may scrape Ray's metrics (8080), e.g. Prometheus's namespace.")
  @Size(max = 32)
  public List<NetworkPolicyPeer> metricsFrom;

  public boolean isEnabled() {
    return Boolean.TRUE.equals(enabled);
  }
}
