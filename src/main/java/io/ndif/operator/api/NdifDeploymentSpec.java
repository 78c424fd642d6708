package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "(has(self.isolation) && self.isolation == 'Dedicated') || has(self.clusterRef)",
    message = "clusterRef is required for Shared isolation")
@ValidationRule(
    value =
        "!(has(self.isolation) && self.isolation == 'Dedicated') || (has(self.dedicated) &&"
            + " has(self.dedicated.pool))",
    message = "isolation Dedicated requires dedicated.pool")
public class NdifDeploymentSpec {
  @JsonPropertyDescription("Name of the NdifCluster in this namespace that serves the model.")
  @Pattern(PoolSpec.DNS_LABEL)
  @Size(max = 63)
  public String clusterRef;

  @JsonPropertyDescription("The model to serve.")
  @Required
  public ModelSpec model;

  @JsonPropertyDescription("Serve replicas (ignored when autoscaling is set).")
  @Default("1")
  @Min(0)
  @Max(1000)
  public Integer replicas;

  @JsonPropertyDescription("Ray Serve autoscaling of the replicas.")
  public ReplicaAutoscalingSpec autoscaling;

  @JsonPropertyDescription("Resources of one replica.")
  public ReplicaResources resources;

  @JsonPropertyDescription("Where the replicas may run.")
  public PlacementSpec placement;

  @JsonPropertyDescription("A pinned deployment is never evicted to make room for another.")
  @Default("false")
  public Boolean pinned;

  @JsonPropertyDescription(
      "Windows during which the deployment is pinned and optionally raised in priority.")
  public ScheduleSpec schedule;

  @JsonPropertyDescription("Higher priority is admitted first and may evict lower priorities.")
  @Default("0")
  public Integer priority;

  @JsonPropertyDescription("Longest time one request may run, in seconds.")
  @Min(1)
  public Integer executionTimeoutSeconds;

  @JsonPropertyDescription(
      "nnsight requests that may wait for each replica (Serve's max_queued_requests); one runs"
          + " at a time, and a request beyond the queue is refused at once with a sentence.")
  @Default("64")
  @Min(1)
  @Max(100000)
  public Integer maxQueuedRequests;

  @JsonPropertyDescription("The Ray Serve application.")
  public ServeSpec serve;

  @JsonPropertyDescription(
      "Shared (default): a Serve application on clusterRef; Dedicated: its own RayService.")
  @Default("Shared")
  public Isolation isolation;

  /** On a RayService of its own rather than on its NdifCluster's Ray cluster. */
  public boolean usesDedicatedIsolation() {
    return isolation == Isolation.Dedicated;
  }

  @JsonPropertyDescription("The RayService of a Dedicated deployment.")
  public DedicatedSpec dedicated;

  public enum Isolation {
    Shared,
    Dedicated
  }
}
