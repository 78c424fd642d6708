package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.crd.generator.annotation.PreserveUnknownFields;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class HeadSpec {
  @JsonPropertyDescription(
      "Resources of the head's Ray container; default 2 CPUs and 8Gi of memory (the memory limit"
          + " also sizes /dev/shm, Ray's object store). The head never advertises GPUs to Ray.")
  public ResourceRequirements resources;

  @JsonPropertyDescription("Node selector for the head pod.")
  public Map<String, String> nodeSelector;

  @JsonPropertyDescription("Tolerations for the head pod.")
  @Size(max = 32)
  public List<Toleration> tolerations;

  @JsonPropertyDescription("Type of the head Service (ClusterIP, NodePort, LoadBalancer).")
  public ServiceType serviceType;

  @JsonPropertyDescription("Image of the head; defaults to spec.image.")
  public String image;

  @JsonPropertyDescription(
      "A partial pod template merged into the generated one (volumes, mounts, env, service"
          + " account, image pull secrets, labels, annotations, affinity, priority class, security"
          + " contexts, sidecars). It may add, not change, what the operator sets: the Ray"
          + " container's image and resources, GPUs, the node selector and the operator's labels,"
          + " env and volumes; a conflict is reported in the Degraded condition and nothing is"
          + " applied until it is fixed. The Ray container is named ray-head.")
  @PreserveUnknownFields
  public Object template;

  public enum ServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer
  }
}
