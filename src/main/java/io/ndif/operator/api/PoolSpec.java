package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/** A group of identical GPU nodes; also the shape of a dedicated deployment's pool. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value = "self.minNodes <= self.nodes",
    message = "minNodes must not exceed nodes (0 <= minNodes <= nodes <= maxNodes)")
@ValidationRule(
    value = "!has(self.maxNodes) || self.nodes <= self.maxNodes",
    message = "nodes must not exceed maxNodes (0 <= minNodes <= nodes <= maxNodes)")
public class PoolSpec {
  public static final String DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
  public static final String DNS_SUBDOMAIN =
      "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";

  @JsonPropertyDescription(
      "Pool name, a DNS label; names the KubeRay worker group and the pool's Ray resource.")
  @Required
  @Pattern(DNS_LABEL)
  @Size(min = 1, max = 40)
  public String name;

  @JsonPropertyDescription("GPUs on each node of the pool (nvidia.com/gpu limit of a worker pod).")
  @Required
  @Min(1)
  @Max(64)
  public Integer gpusPerNode;

  @JsonPropertyDescription("Memory of one GPU, a quantity such as 80Gi.")
  @Required
  @ValidationRule(
      value = Quantities.POSITIVE_RULE,
      message = "gpuMemory must be a positive quantity such as 80Gi")
  @Size(max = 32)
  public String gpuMemory;

  @JsonPropertyDescription(
      "GPU product (GPU Feature Discovery's nvidia.com/gpu.product label value, e.g."
          + " NVIDIA-A100-SXM4-80GB); becomes a nodeSelector.")
  @Size(max = 63)
  public String gpuProduct;

  @JsonPropertyDescription("Number of nodes (worker pods) the pool runs.")
  @Default("1")
  @Min(0)
  @Max(1000)
  public Integer nodes;

  @JsonPropertyDescription("Fewest nodes the pool may scale down to.")
  @Default("0")
  @Min(0)
  @Max(1000)
  public Integer minNodes;

  @JsonPropertyDescription("Most nodes the pool may scale up to; defaults to nodes.")
  @Min(0)
  @Max(1000)
  public Integer maxNodes;

  @JsonPropertyDescription(
      "Resources of each worker's Ray container; the nvidia.com/gpu limit is set from"
          + " gpusPerNode. Without a memory limit the limit is gpusPerNode x gpuMemory (at least"
          + " 8Gi): host memory to stage the weights, and room for /dev/shm, Ray's object store.")
  public ResourceRequirements resources;

  @JsonPropertyDescription("Extra node selector for the pool's pods.")
  public Map<String, String> nodeSelector;

  @JsonPropertyDescription("Tolerations for the pool's pods.")
  @Size(max = 32)
  public List<Toleration> tolerations;

  @JsonPropertyDescription("Image of the pool's workers; defaults to spec.image.")
  public String image;

  @JsonPropertyDescription(
      "A partial pod template merged into the generated one (volumes, mounts, env, service"
          + " account, image pull secrets, labels, annotations, affinity, priority class, security"
          + " contexts, sidecars). It may add, not change, what the operator sets: the Ray"
          + " container's image and resources, GPUs, the node selector and the operator's labels,"
          + " env and volumes; a conflict is reported in the Degraded condition and nothing is"
          + " applied until it is fixed. The Ray container is named ray-worker.")
  @PreserveUnknownFields
  public Object template;

  @JsonPropertyDescription(
      "Extra ray start parameters for the pool's workers. Not 'resources' (the operator sets the"
          + " pool's resource there), 'num-gpus' (gpusPerNode) nor 'labels' (KubeRay refuses it).")
  @ValidationRule(
      value = "!('resources' in self)",
      message =
          "rayStartParams.resources is set by the operator (the pool's resource ndif_pool_<pool>)")
  @ValidationRule(
      value = "!('num-gpus' in self)",
      message = "rayStartParams.num-gpus is set by the operator from gpusPerNode")
  @ValidationRule(
      value = "!('labels' in self)",
      message = "rayStartParams.labels is refused by KubeRay; use the pool's nodeSelector")
  public Map<String, String> rayStartParams;

  public int nodesOrDefault() {
    return nodes == null ? 1 : nodes;
  }

  public int minNodesOrDefault() {
    return minNodes == null ? 0 : minNodes;
  }

  public int maxNodesOrDefault() {
    return maxNodes == null ? Math.max(nodesOrDefault(), minNodesOrDefault()) : maxNodes;
  }
}
