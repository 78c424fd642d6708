package io.ndif.operator.ray;

import static io.ndif.operator.api.Constants.GPU_PRODUCT_LABEL;
import static io.ndif.operator.api.Constants.GPU_RESOURCE;

import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.ResourceRequirementsBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.GatewayAuthSpec;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.HeadSpec;
import io.ndif.operator.api.PoolSpec;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds KubeRay head and worker group specs (as plain maps) from NDIF pools. */
public final class RayPodTemplates {
  private static final Map<String, Quantity> DEFAULT_HEAD_REQUESTS =
      Map.of("cpu", new Quantity("2"), "memory", new Quantity("8Gi"));

  private RayPodTemplates() {}

  /** Volumes added to every Ray pod, each mounted into its Ray container. */
  public record Mounts(List<Volume> volumes, List<VolumeMount> mounts) {
    public static final Mounts NONE = new Mounts(List.of(), List.of());
  }

  /**
   * The gateway's API key file, when the gateway is on with keys: the Secret ({@code
   * <owner>-api-keys} unless named) mounted read-only where the gateway application reads it.
   * Optional, so a missing Secret does not stop the pods; the gateway then refuses every request
   * and says why.
   */
  public static Mounts gatewayKeys(GatewaySpec gateway, String owner) {
    GatewayAuthSpec auth = gateway.authOrDefault();
    if (!gateway.isEnabled() || !auth.required()) {
      return Mounts.NONE;
    }
    return apiKeys(auth.secretName(owner), auth.secretKey());
  }

  private static Mounts apiKeys(String secretName, String secretKey) {
    Volume volume =
        new VolumeBuilder()
            .withName(API_KEYS_VOLUME)
            .withNewSecret()
            .withSecretName(secretName)
            .withOptional(true)
            .withDefaultMode(0440)
            .addNewItem()
            .withKey(secretKey)
            .withPath(secretKey)
            .endItem()
            .endSecret()
            .build();
    VolumeMount mount =
        new VolumeMountBuilder()
            .withName(API_KEYS_VOLUME)
            .withMountPath(GatewayAuthSpec.MOUNT_PATH)
            .withReadOnly(true)
            .build();
    return new Mounts(List.of(volume), List.of(mount));
  }

  public static final String API_KEYS_VOLUME = "ndif-api-keys";

  public static Map<String, Object> headGroup(
      HeadSpec head, String image, List<EnvVar> env, Map<String, String> labels, Mounts mounts) {
    HeadSpec spec = head == null ? new HeadSpec() : head;
    ResourceRequirements resources =
        spec.resources != null
            ? spec.resources
            : new ResourceRequirementsBuilder()
                .withRequests(DEFAULT_HEAD_REQUESTS)
                .withLimits(Map.of("memory", new Quantity("8Gi")))
                .build();
    PodTemplateSpec template =
        template(
            "ray-head",
            spec.image != null ? spec.image : image,
            resources,
            env,
            labels,
            spec.nodeSelector,
            spec.tolerations,
            mounts);
    Map<String, Object> group = new LinkedHashMap<>();
    if (spec.serviceType != null) {
      group.put("serviceType", spec.serviceType.name());
    }
    // A head on a GPU node would otherwise advertise the host's GPUs to Ray.
    group.put("rayStartParams", Map.of("num-gpus", "0", "dashboard-host", "0.0.0.0"));
    group.put("template", toMap(template));
    return group;
  }

  /**
   * A worker group for one pool. {@code replicas}, {@code minReplicas} and {@code maxReplicas} are
   * decided by the caller, which knows the autoscaling mode.
   */
  public static Map<String, Object> workerGroup(
      PoolSpec pool,
      String image,
      List<EnvVar> env,
      Map<String, String> labels,
      int replicas,
      int minReplicas,
      int maxReplicas,
      Mounts mounts) {
    Map<String, Quantity> gpus = Map.of(GPU_RESOURCE, new Quantity(pool.gpusPerNode.toString()));
    ResourceRequirementsBuilder resources =
        pool.resources == null
            ? new ResourceRequirementsBuilder()
            : new ResourceRequirementsBuilder(pool.resources);
    // KubeRay reads GPUs from limits; for extended resources requests must equal limits.
    resources.addToLimits(gpus).addToRequests(gpus);
    Map<String, String> nodeSelector = new LinkedHashMap<>();
    if (pool.gpuProduct != null && !pool.gpuProduct.isBlank()) {
      nodeSelector.put(GPU_PRODUCT_LABEL, pool.gpuProduct);
    }
    if (pool.nodeSelector != null) {
      nodeSelector.putAll(pool.nodeSelector);
    }
    PodTemplateSpec template =
        template(
            "ray-worker",
            pool.image != null ? pool.image : image,
            resources.build(),
            env,
            labels,
            nodeSelector,
            pool.tolerations,
            mounts);

    Map<String, String> startParams = new LinkedHashMap<>();
    if (pool.rayStartParams != null) {
      startParams.putAll(pool.rayStartParams);
    }
    // The pool's custom resource lets a Serve deployment be pinned to this pool.
    // KubeRay passes the value to `ray start --resources=` through a shell, hence the quoting.
    startParams.put(
        "resources",
        "\"{\\\"" + KubeRay.poolResource(pool.name) + "\\\": " + pool.gpusPerNode + "}\"");

    Map<String, Object> group = new LinkedHashMap<>();
    group.put("groupName", pool.name);
    group.put("replicas", replicas);
    group.put("minReplicas", minReplicas);
    group.put("maxReplicas", maxReplicas);
    group.put("rayStartParams", startParams);
    group.put("template", toMap(template));
    return group;
  }

  private static PodTemplateSpec template(
      String containerName,
      String image,
      ResourceRequirements resources,
      List<EnvVar> env,
      Map<String, String> labels,
      Map<String, String> nodeSelector,
      List<Toleration> tolerations,
      Mounts mounts) {
    return new PodTemplateSpecBuilder()
        .withNewMetadata()
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withContainers(
            new ContainerBuilder()
                .withName(containerName)
                .withImage(image)
                .withResources(resources)
                .withEnv(env)
                .withVolumeMounts(mounts.mounts().isEmpty() ? null : mounts.mounts())
                .build())
        .withVolumes(mounts.volumes().isEmpty() ? null : mounts.volumes())
        .withNodeSelector(nodeSelector == null || nodeSelector.isEmpty() ? null : nodeSelector)
        .withTolerations(tolerations)
        .endSpec()
        .build();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> toMap(Object value) {
    return Serialization.jsonMapper().convertValue(value, Map.class);
  }
}
