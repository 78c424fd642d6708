package io.ndif.operator.deployment;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifClusterSpec;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.PoolSpec;
import io.ndif.operator.api.Quantities;
import io.ndif.operator.placement.ModelSizes;
import io.ndif.operator.ray.RayPodTemplates;
import io.ndif.operator.ray.ServeConfigs;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;

/** Maps a Dedicated NdifDeployment to a KubeRay RayService spec. */
public final class DedicatedServices {
  public static final String DEFAULT_RAY_VERSION = "2.52.0";
  public static final String DEFAULT_IMAGE = "rayproject/ray:2.52.0-gpu";

  private DedicatedServices() {}

  /** GPUs of one replica in the dedicated pool, or empty when the model's size is unknown. */
  public static OptionalDouble gpusPerReplica(NdifDeployment d) {
    var spec = d.getSpec();
    if (spec.resources != null && spec.resources.gpus != null) {
      return OptionalDouble.of(spec.resources.gpus);
    }
    var size = DeploymentSizes.bytes(spec);
    PoolSpec pool = spec.dedicated.pool;
    return size.isPresent()
        ? OptionalDouble.of(
            ModelSizes.gpusPerReplica(size.getAsLong(), Quantities.bytes(pool.gpuMemory)))
        : OptionalDouble.empty();
  }

  public static GatewaySpec gateway(NdifDeployment d) {
    var dedicated = d.getSpec().dedicated;
    return dedicated == null || dedicated.gateway == null ? new GatewaySpec() : dedicated.gateway;
  }

  public static Map<String, Object> spec(NdifDeployment d) {
    var dedicated = d.getSpec().dedicated;
    PoolSpec pool = dedicated.pool;
    String image = dedicated.image != null ? dedicated.image : DEFAULT_IMAGE;
    double gpus = gpusPerReplica(d).orElse(1.0);
    GatewaySpec gateway = gateway(d);
    // Off unless set: turning it on replaces the RayService's cluster, as any change of it does.
    int directPort = gateway.isEnabled() && gateway.directPort != null ? gateway.directPort : 0;
    var serveConfig =
        ServeConfigs.config(
            List.of(new ServeConfigs.Admitted(d, pool.name, gpus)),
            ServeConfigs.withDirectPort(
                ServeConfigs.gateway(
                    gateway,
                    gateway.authOrDefault().mountedKeysFile(),
                    d.getMetadata().getNamespace() + "/" + d.getMetadata().getName(),
                    null,
                    true),
                directPort));
    // The gateway runs on the head, the only pod with the API key Secret.
    var additions = RayPodTemplates.modelCache(dedicated.modelCache);
    var headAdditions =
        additions
            .plus(RayPodTemplates.gatewayKeys(gateway, d.getMetadata().getName()))
            .plus(RayPodTemplates.gatewayStore(gateway));
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(Constants.LABEL_MANAGED_BY, Constants.OPERATOR_NAME);
    labels.put(Constants.LABEL_DEPLOYMENT, d.getMetadata().getName());
    Map<String, String> workerLabels = new LinkedHashMap<>(labels);
    workerLabels.put(Constants.LABEL_POOL, pool.name);

    // A RayService's cluster is replaced as a whole when its spec changes, so no pod of another
    // authentication ever meets it: the spec alone decides.
    boolean token = dedicated.rayAuth != NdifClusterSpec.RayAuthMode.Disabled;
    List<EnvVar> env = token ? List.of() : List.of(new EnvVar("RAY_AUTH_MODE", "disabled", null));
    Map<String, Object> cluster = new LinkedHashMap<>();
    cluster.put(
        "rayVersion", dedicated.rayVersion != null ? dedicated.rayVersion : DEFAULT_RAY_VERSION);
    cluster.put("authOptions", Map.of("mode", token ? "token" : "disabled"));
    cluster.put(
        "headGroupSpec",
        RayPodTemplates.headGroup(
                null,
                image,
                env,
                labels,
                headAdditions,
                false,
                new RayPodTemplates.GatewayHost(true, directPort))
            .spec());
    var worker =
        RayPodTemplates.workerGroup(
            pool,
            image,
            env,
            workerLabels,
            pool.nodesOrDefault(),
            pool.minNodesOrDefault(),
            pool.maxNodesOrDefault(),
            additions);
    if (!worker.conflicts().isEmpty()) {
      // Nothing is applied: the RayService, if any, keeps running as it is.
      throw new IllegalArgumentException(
          "the pool's template override conflicts with what the operator sets: "
              + String.join(
                  "; ",
                  worker.conflicts().stream()
                      .map(c -> c.replaceFirst("^pools\\[[^]]*]", "dedicated.pool"))
                      .toList()));
    }
    cluster.put("workerGroupSpecs", List.of(worker.spec()));

    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("serveConfigV2", Serialization.asYaml(serveConfig));
    spec.put("rayClusterConfig", cluster);
    var strategy = d.getSpec().dedicated.upgradeStrategy;
    if (strategy != null) {
      spec.put("upgradeStrategy", Map.of("type", strategy.name()));
    }
    return spec;
  }
}
