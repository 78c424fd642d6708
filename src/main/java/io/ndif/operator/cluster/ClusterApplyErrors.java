package io.ndif.operator.cluster;

import io.fabric8.kubernetes.client.KubernetesClientException;

/** Makes an error from applying the RayCluster readable in a condition message. */
final class ClusterApplyErrors {
  private ClusterApplyErrors() {}

  static String describe(Exception error) {
    Throwable cause = error;
    while (cause.getCause() != null && !(cause instanceof KubernetesClientException)) {
      cause = cause.getCause();
    }
    if (cause instanceof KubernetesClientException k && k.getStatus() != null) {
      var status = k.getStatus();
      if (status.getCode() != null && status.getCode() == 404) {
        return "the RayCluster could not be applied: KubeRay's CRDs are not installed (ray.io/v1"
            + " RayCluster not found)";
      }
      return "the RayCluster could not be applied: " + status.getMessage();
    }
    return "the RayCluster could not be applied: " + cause.getMessage();
  }
}
