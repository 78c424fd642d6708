package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class NdifDeploymentStatus {
  @JsonPropertyDescription("Generation of the spec this status describes.")
  public Long observedGeneration;

  @JsonPropertyDescription("Scheduled, Ready, Progressing and Degraded, with reasons.")
  public List<Condition> conditions = new ArrayList<>();

  @JsonPropertyDescription("NDIF model key: <wrapper>:{\"repo_id\": ..., \"revision\": ...}.")
  public String modelKey;

  @JsonPropertyDescription("Estimated GPU memory of one replica, in bytes.")
  public Long sizeBytes;

  public Double gpusPerReplica;
  public String pool;

  @JsonPropertyDescription("Desired replicas.")
  public Integer replicas;

  public Integer readyReplicas;

  @JsonPropertyDescription(
      "HOT: a replica runs; WARM: not running, and a node keeps its weights in host memory (the"
          + " cluster's warm tier), so it comes back without reading its files; COLD: neither.")
  public String level;

  @JsonPropertyDescription("Ready and desired replicas, e.g. 1/2.")
  public String replicaSummary;

  @JsonPropertyDescription("Every replica with its state and node.")
  public List<Placement> placements = new ArrayList<>();

  public Application application;

  @JsonPropertyDescription("HTTP endpoint of the application.")
  public String endpoint;

  @JsonPropertyDescription(
      "NDIF_HOST for nnsight's client: the NDIF gateway that runs this model's requests.")
  public String ndifHost;

  @JsonPropertyDescription("RayService of a Dedicated deployment.")
  public String rayServiceName;

  @JsonPropertyDescription(
      "Whether the deployment is pinned now: by spec.pinned or an open schedule window.")
  public Boolean pinned;

  @JsonPropertyDescription("The priority it is placed with now (raised by an open window).")
  public Integer priority;

  @JsonPropertyDescription("The schedule's open window and the next one.")
  public ScheduleStatus schedule;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ScheduleStatus {
    @JsonPropertyDescription("The window open now (touching windows merged), if any.")
    public WindowStatus current;

    @JsonPropertyDescription("The next window to open, if any.")
    public WindowStatus next;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class WindowStatus {
    public String name;

    @JsonPropertyDescription("RFC 3339, UTC.")
    public String start;

    @JsonPropertyDescription("RFC 3339, UTC.")
    public String end;

    public Integer priority;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Placement {
    public String replicaId;
    public String state;
    public String pod;
    public String nodeName;

    @JsonPropertyDescription("Ray node id and IP of the node the replica runs on.")
    public String rayNodeId;

    public String nodeIp;
    public String pool;
    public Double gpus;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Application {
    public String name;
    public String status;
    public String message;
    public String route;
  }
}
