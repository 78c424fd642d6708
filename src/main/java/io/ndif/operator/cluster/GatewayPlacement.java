package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Pod;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterSpec;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.RayPodTemplates;
import java.util.Collection;
import java.util.Map;

/**
 * Where a managed cluster's gateway runs: on its head, or on a worker group of its own (placement
 * Workers), the only Ray pods that hold the API key Secret. A head made before heads said whether
 * they host the gateway (an operator upgrade: KubeRay does not replace a running head) keeps the
 * gateway free to run anywhere and the Secret on every pod until that head is replaced, so that the
 * gateway never waits for a resource no node has, nor lands on a pod without its keys.
 */
public final class GatewayPlacement {
  private GatewayPlacement() {}

  /** Whether the spec puts the gateway on its own worker group rather than the head. */
  public static boolean onWorkers(NdifClusterSpec spec) {
    GatewaySpec gateway = GatewaySpec.of(spec);
    if (!gateway.isEnabled() || spec.usesExternalCluster()) {
      return false;
    }
    if (gateway.placement != null) {
      return gateway.placement == GatewaySpec.Placement.Workers;
    }
    return RayClusterSpecs.gcsFaultTolerance(spec) != null;
  }

  /** Whether the gateway is pinned to the pods that host it (and only they hold its Secrets). */
  public static boolean pinned(NdifCluster cluster, Collection<Pod> pods) {
    if (cluster.getSpec().usesExternalCluster()) {
      return false;
    }
    var heads =
        pods.stream()
            .filter(p -> KubeRay.NODE_TYPE_HEAD.equals(labels(p).get(KubeRay.LABEL_NODE_TYPE)))
            .toList();
    return heads.isEmpty()
        || heads.stream().anyMatch(p -> labels(p).containsKey(RayPodTemplates.GATEWAY_HOST_LABEL));
  }

  private static Map<String, String> labels(Pod pod) {
    var labels = pod.getMetadata().getLabels();
    return labels == null ? Map.of() : labels;
  }
}
