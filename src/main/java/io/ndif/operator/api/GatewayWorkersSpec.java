package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/** The gateway's own worker group, where it runs when its placement is Workers. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class GatewayWorkersSpec {
  /** The worker group's name in the RayCluster; no pool may take it. */
  public static final String GROUP = "ndif-gateway";

  @JsonPropertyDescription(
      "Ray pods of the group; the gateway's replicas spread over them (two keep it answering"
          + " while one is replaced).")
  @Default("1")
  @Min(1)
  @Max(16)
  public Integer nodes;

  @JsonPropertyDescription(
      "Resources of each pod's Ray container. Default: a request of 1 CPU and 1Gi, and a memory"
          + " limit of 2Gi plus 1Gi per gateway replica. Ray is given a CPU per gateway replica"
          + " (times gateway.cpus) plus one, whatever the container has.")
  public ResourceRequirements resources;

  @JsonPropertyDescription("Node selector for the group's pods.")
  public Map<String, String> nodeSelector;

  @JsonPropertyDescription("Tolerations for the group's pods.")
  @Size(max = 32)
  public List<Toleration> tolerations;

  @JsonPropertyDescription(
      "A partial pod template merged into the generated one, as a pool's template: it may add,"
          + " not change, what the operator sets. The Ray container is named ray-worker.")
  @PreserveUnknownFields
  public Object template;

  public int nodesOrDefault() {
    return nodes == null ? 1 : nodes;
  }
}
