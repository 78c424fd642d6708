package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class OnDemandSpec {
  public static final int DEFAULT_PRIORITY = -100;
  public static final int DEFAULT_IDLE_SECONDS = 900;
  public static final int DEFAULT_MAX_DEPLOYMENTS = 4;
  public static final int DEFAULT_MAX_WAIT_SECONDS = 600;

  @JsonPropertyDescription(
      "The models that may be deployed when a job asks for one that nothing serves: a repository"
          + " id or a pattern (org/*), with the size and resources such a deployment gets. A job"
          + " for any other model ends at once with a sentence.")
  @Required
  @Size(min = 1, max = 64)
  public List<OnDemandModelSpec> models;

  @JsonPropertyDescription(
      "Priority of on-demand deployments; default -100, below hand-made ones (0), so they are"
          + " preempted first.")
  @Default("-100")
  public Integer priority;

  @JsonPropertyDescription(
      "An on-demand deployment no job has used for this long is deleted, in seconds. Default"
          + " 900.")
  @Default("900")
  @Min(30)
  @Max(2592000)
  public Integer idleSeconds;

  @JsonPropertyDescription("Most on-demand deployments at once. Default 4.")
  @Default("4")
  @Min(1)
  @Max(1000)
  public Integer maxDeployments;

  @JsonPropertyDescription(
      "Most GPUs the on-demand deployments may be planned to hold together; none: the pools' own"
          + " limit.")
  @Min(0)
  public Double maxGpus;

  @JsonPropertyDescription(
      "How long a job waits for its model to be deployed and placed before it ends with the"
          + " placement's reason, in seconds. Default 600.")
  @Default("600")
  @Min(0)
  @Max(86400)
  public Integer maxWaitSeconds;

  public int priorityOrDefault() {
    return priority == null ? DEFAULT_PRIORITY : priority;
  }

  public int idleSecondsOrDefault() {
    return idleSeconds == null ? DEFAULT_IDLE_SECONDS : idleSeconds;
  }

  public int maxDeploymentsOrDefault() {
    return maxDeployments == null ? DEFAULT_MAX_DEPLOYMENTS : maxDeployments;
  }

  public int maxWaitSecondsOrDefault() {
    return maxWaitSeconds == null ? DEFAULT_MAX_WAIT_SECONDS : maxWaitSeconds;
  }
}
