package io.ndif.operator.bench;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.testing.FakeRayDashboard;
import java.util.List;

/**
 * The fleet the benchmarks place: adopted clusters of two pools (4 x 8 A100 80Gi, 4 x 8 L4 24Gi)
 * and deployments of 1Gi to 60Gi with priorities 0 to 2, and when it has settled.
 */
final class BenchFleet {
  private BenchFleet() {}

  static NdifCluster cluster(String name, String dashboardUrl) {
    return Serialization.unmarshal(
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifCluster
        metadata: {name: %s}
        spec:
          external: {dashboardUrl: "%s"}
          gateway: {auth: {keysFile: /etc/ndif/api-keys/keys.yaml}}
          pools:
          - {name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 4}
          - {name: l4, gpusPerNode: 8, gpuMemory: 24Gi, nodes: 4}
        """
            .formatted(name, dashboardUrl),
        NdifCluster.class);
  }

  /** The i-th deployment, on cluster {@code c<i mod clusters>}. */
  static NdifDeployment deployment(int i, int clusters) {
    return Serialization.unmarshal(
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifDeployment
        metadata: {name: d%d}
        spec:
          clusterRef: c%d
          priority: %d
          model: {repoId: org/model-%d, sizeBytes: %dGi}
        """
            .formatted(i, i % clusters, i % 3, i, 1 + (i * 7) % 60),
        NdifDeployment.class);
  }

  /**
   * Every deployment has its final Scheduled decision and the dashboards serve exactly the admitted
   * ones.
   */
  static boolean settled(
      KubernetesClient client, String ns, int expected, List<FakeRayDashboard> dashboards) {
    var items = client.resources(NdifDeployment.class).inNamespace(ns).list().getItems();
    if (items.size() < expected) {
      return false;
    }
    long admitted = 0;
    for (var d : items) {
      if (d.getStatus() == null) {
        return false;
      }
      var scheduled = Conditions.find(d.getStatus().conditions, "Scheduled");
      if (scheduled.isEmpty() || Conditions.UNKNOWN.equals(scheduled.get().getStatus())) {
        return false;
      }
      if (Conditions.TRUE.equals(scheduled.get().getStatus())) {
        admitted++;
      }
    }
    long served = dashboards.stream().mapToLong(FakeRayDashboard::deploymentApplications).sum();
    return served == admitted;
  }
}
