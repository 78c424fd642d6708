package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Pod;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.RayPodTemplates;
import java.util.Collection;
import java.util.Map;

/**
 * Whether a managed cluster's gateway runs on its head, the only Ray pod that holds the API key
 * Secret. A head made before the head offered the gateway's Ray resource (an operator upgrade:
 * KubeRay does not replace a running head) keeps the gateway free to run anywhere and the Secret on
 * every pod until that head is replaced, so that the gateway never waits for a resource no node
 * has, nor lands on a worker without its keys.
 */
public final class GatewayPlacement {
  private GatewayPlacement() {}

  public static boolean onHead(NdifCluster cluster, Collection<Pod> pods) {
    if (cluster.getSpec().usesExternalCluster()) {
      return false;
    }
    var heads =
        pods.stream()
            .filter(p -> KubeRay.NODE_TYPE_HEAD.equals(labels(p).get(KubeRay.LABEL_NODE_TYPE)))
            .toList();
    return heads.isEmpty()
        || heads.stream()
            .anyMatch(p -> "true".equals(labels(p).get(RayPodTemplates.GATEWAY_HOST_LABEL)));
  }

  private static Map<String, String> labels(Pod pod) {
    var labels = pod.getMetadata().getLabels();
    return labels == null ? Map.of() : labels;
  }
}
