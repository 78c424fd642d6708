package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRuleBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeerBuilder;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPort;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPortBuilder;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NetworkPolicySpec;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.RayPodTemplates;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** The NetworkPolicy of a managed cluster's Ray pods ({@code spec.networkPolicy}). */
public final class RayNetworkPolicies {
  public static final int SERVE_PORT = 8000;

  private RayNetworkPolicies() {}

  public static String name(NdifCluster cluster) {
    return cluster.getMetadata().getName() + "-ray";
  }

  public static boolean wanted(NdifCluster cluster) {
    return !cluster.getSpec().usesExternalCluster()
        && cluster.getSpec().networkPolicy != null
        && cluster.getSpec().networkPolicy.isEnabled();
  }

  public static NetworkPolicy build(NdifCluster cluster) {
    NetworkPolicySpec spec =
        cluster.getSpec().networkPolicy == null
            ? new NetworkPolicySpec()
            : cluster.getSpec().networkPolicy;
    Map<String, String> rayPods = Map.of(Constants.LABEL_CLUSTER, cluster.getMetadata().getName());
    List<NetworkPolicyIngressRule> ingress = new ArrayList<>();
    // Ray's own traffic between its pods: GCS, raylets, object transfers, workers' ports.
    ingress.add(
        new NetworkPolicyIngressRuleBuilder()
            .withFrom(
                new NetworkPolicyPeerBuilder()
                    .withNewPodSelector()
                    .withMatchLabels(rayPods)
                    .endPodSelector()
                    .build())
            .build());
    // The gateway (Serve's HTTP proxy, and the gateway replicas' own port): what researchers'
    // clients reach.
    GatewaySpec gateway = GatewaySpec.of(cluster.getSpec());
    int directPort =
        gateway.isEnabled() ? gateway.directPortFor(cluster.getSpec().usesExternalCluster()) : 0;
    ingress.add(
        new NetworkPolicyIngressRuleBuilder()
            .withPorts(
                directPort == 0
                    ? List.of(tcp(SERVE_PORT))
                    : List.of(tcp(SERVE_PORT), tcp(directPort)))
            .build());
    if (spec.dashboardFrom != null && !spec.dashboardFrom.isEmpty()) {
      ingress.add(rule(spec.dashboardFrom, KubeRay.DASHBOARD_PORT));
    }
    if (spec.metricsFrom != null && !spec.metricsFrom.isEmpty()) {
      ingress.add(rule(spec.metricsFrom, RayPodTemplates.METRICS_PORT));
    }
    return new NetworkPolicyBuilder()
        .withNewMetadata()
        .withName(name(cluster))
        .withNamespace(cluster.getMetadata().getNamespace())
        .withLabels(ClusterLabels.forCluster(cluster))
        .endMetadata()
        .withNewSpec()
        .withNewPodSelector()
        .withMatchLabels(rayPods)
        .endPodSelector()
        .withPolicyTypes("Ingress")
        .withIngress(ingress)
        .endSpec()
        .build();
  }

  private static NetworkPolicyIngressRule rule(List<NetworkPolicyPeer> from, int port) {
    return new NetworkPolicyIngressRuleBuilder().withFrom(from).withPorts(tcp(port)).build();
  }

  private static NetworkPolicyPort tcp(int port) {
    return new NetworkPolicyPortBuilder()
        .withProtocol("TCP")
        .withPort(new IntOrString(port))
        .build();
  }
}
