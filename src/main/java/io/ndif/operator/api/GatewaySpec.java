package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;

/** NDIF's API for nnsight clients, served on the cluster as the Serve application ndif-gateway. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class GatewaySpec {
  /** The gateway's Serve application name; no NdifDeployment may take it. */
  public static final String APPLICATION = "ndif-gateway";

  @JsonPropertyDescription(
      "Serve NDIF's API (what nnsight's client calls with NDIF_HOST set) on this cluster.")
  @Default("true")
  public Boolean enabled;

  @JsonPropertyDescription("Gateway replicas; any of them may take a job's request or its poll.")
  @Default("1")
  @Min(1)
  @Max(16)
  public Integer replicas;

  @JsonPropertyDescription("CPUs of one gateway replica (Ray's num_cpus).")
  @Default("1")
  @Min(0)
  @Max(64)
  public Double cpus;

  @JsonPropertyDescription("Who may send requests.")
  public GatewayAuthSpec auth;

  @JsonPropertyDescription("Size and time limits of requests and results.")
  public GatewayLimitsSpec limits;

  @JsonPropertyDescription(
      "Keep jobs (statuses, results, open sessions, running jobs) in a Redis server, so that no"
          + " gateway replica's end loses one. Absent: one replica's memory (a single machine).")
  public GatewayStoreSpec store;

  @JsonPropertyDescription(
      "Who may run code in a model replica's own process instead of a contained one (no"
          + " credentials, no network, no programs, a fresh process per request): Nobody"
          + " (default), Trusted (keys tagged trusted, NDIF's rule) or Everyone (a single-user"
          + " lab; flagged by a Warning condition).")
  @Default("Nobody")
  public InProcess inProcess;

  /** Whose requests skip containment. */
  public enum InProcess {
    Nobody,
    Trusted,
    Everyone;

    /** The value of the Serve applications' {@code in_process} argument. */
    public String argument() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  public InProcess inProcessOrDefault() {
    return inProcess == null ? InProcess.Nobody : inProcess;
  }

  public boolean isEnabled() {
    return !Boolean.FALSE.equals(enabled);
  }

  public static GatewaySpec of(NdifClusterSpec spec) {
    return spec.gateway == null ? new GatewaySpec() : spec.gateway;
  }

  public GatewayAuthSpec authOrDefault() {
    return auth == null ? new GatewayAuthSpec() : auth;
  }

  public GatewayLimitsSpec limitsOrDefault() {
    return limits == null ? new GatewayLimitsSpec() : limits;
  }
}
