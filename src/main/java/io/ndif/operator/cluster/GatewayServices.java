package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.ray.RayPodTemplates;
import java.util.Map;

/**
 * {@code <cluster>-gateway}: the gateway replicas' own port (spec.gateway.directPort) on the Ray
 * pods that host the gateway, the head or the gateway's worker group. KubeRay's head Service only
 * covers the head, and its serve Service only Serve's proxy port.
 */
public final class GatewayServices {
  private GatewayServices() {}

  public static String name(NdifCluster cluster) {
    return cluster.getMetadata().getName() + "-gateway";
  }

  /** A managed cluster whose gateway serves its own port. */
  public static boolean wanted(NdifCluster cluster) {
    GatewaySpec gateway = GatewaySpec.of(cluster.getSpec());
    return !cluster.getSpec().usesExternalCluster()
        && gateway.isEnabled()
        && gateway.directPortFor(false) > 0;
  }

  public static Service build(NdifCluster cluster) {
    int port = GatewaySpec.of(cluster.getSpec()).directPortFor(false);
    return new ServiceBuilder()
        .withNewMetadata()
        .withName(name(cluster))
        .withNamespace(cluster.getMetadata().getNamespace())
        .withLabels(ClusterLabels.forCluster(cluster))
        .endMetadata()
        .withNewSpec()
        .withType("ClusterIP")
        .withSelector(
            Map.of(
                Constants.LABEL_CLUSTER,
                cluster.getMetadata().getName(),
                RayPodTemplates.GATEWAY_HOST_LABEL,
                "true"))
        .withPorts(
            new ServicePortBuilder()
                .withName(RayPodTemplates.DIRECT_PORT_NAME)
                .withProtocol("TCP")
                .withPort(port)
                .withTargetPort(new IntOrString(port))
                .build())
        .endSpec()
        .build();
  }
}
