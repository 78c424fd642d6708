package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.ValidationRule;

/** NDIF's API for nnsight clients, served on the cluster as the Serve application ndif-gateway. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class GatewaySpec {
  /** The gateway's Serve application name; no NdifDeployment may take it. */
  public static final String APPLICATION = "ndif-gateway";

  /** The gateway replicas' own port on a managed cluster, unless set. */
  public static final int DEFAULT_DIRECT_PORT = 8001;

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

  @JsonPropertyDescription(
      "Each gateway replica also serves NDIF's API on this port itself, past Ray Serve's HTTP"
          + " proxy (one process hop fewer on every request): status.gateway.directUrl. Managed"
          + " clusters: 8001 unless set, through the Service <cluster>-gateway on the pods that"
          + " host the gateway; 0 turns it off. Adopted clusters: off unless set (expose the port"
          + " yourself). A"
          + " Dedicated deployment's gateway: off unless set (on its RayService's head Service;"
          + " setting it replaces the RayService's cluster, as any change does).")
  @Min(0)
  @Max(65535)
  @ValidationRule(
      value = "self == 0 || (self >= 1024 && !(self in [6379, 8000, 8080, 8265, 10001]))",
      message =
          "directPort must be 0 (off) or a port from 1024 up that Ray does not use (6379, 8000,"
              + " 8080, 8265 and 10001 are Ray's)")
  public Integer directPort;

  @JsonPropertyDescription(
      "Where the gateway's replicas run, and with them the API key and store Secrets: Head, or"
          + " Workers (a worker group of their own, ndif-gateway, so that with GCS fault"
          + " tolerance NDIF's API keeps answering while the head restarts). Default: Workers when"
          + " the cluster has GCS fault tolerance (a job store, or faultTolerance.redis), else"
          + " Head. Managed clusters only.")
  public Placement placement;

  @JsonPropertyDescription("The gateway's worker group, when it runs on Workers.")
  public GatewayWorkersSpec workers;

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

  /** Where the gateway's replicas run. */
  public enum Placement {
    Head,
    Workers
  }

  public GatewayWorkersSpec workersOrDefault() {
    return workers == null ? new GatewayWorkersSpec() : workers;
  }

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

  /**
   * The gateway replicas' own port, or 0 when they have none.
   *
   * @param adopted an adopted cluster's head exposes only what its owner set up
   */
  public int directPortFor(boolean adopted) {
    if (directPort != null) {
      return directPort;
    }
    return adopted ? 0 : DEFAULT_DIRECT_PORT;
  }

  public GatewayAuthSpec authOrDefault() {
    return auth == null ? new GatewayAuthSpec() : auth;
  }

  public GatewayLimitsSpec limitsOrDefault() {
    return limits == null ? new GatewayLimitsSpec() : limits;
  }
}
