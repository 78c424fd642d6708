package io.ndif.operator.ray;

import static io.ndif.operator.api.Constants.GPU_PRODUCT_LABEL;
import static io.ndif.operator.api.Constants.GPU_RESOURCE;

import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.EmptyDirVolumeSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
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
import io.ndif.operator.api.GatewayStoreSpec;
import io.ndif.operator.api.GatewayWorkersSpec;
import io.ndif.operator.api.HeadSpec;
import io.ndif.operator.api.ModelCacheSpec;
import io.ndif.operator.api.PoolSpec;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Builds KubeRay head and worker group specs (as plain maps) from NDIF pools. */
public final class RayPodTemplates {
  public static final String HEAD_CONTAINER = "ray-head";
  public static final String WORKER_CONTAINER = "ray-worker";
  public static final String API_KEYS_VOLUME = "ndif-api-keys";

  /** Where Ray exports its metrics (ray_serve_*, GPU utilisation) on every Ray pod. */
  public static final int METRICS_PORT = 8080;

  public static final String METRICS_PORT_NAME = "metrics";

  /** The container port where the gateway replicas serve NDIF's API themselves. */
  public static final String DIRECT_PORT_NAME = "ndif-api";

  /**
   * The Ray resource that only the pods hosting the gateway offer (the head, or the gateway's own
   * worker group): the gateway's replicas ask for one unit each.
   */
  public static final String GATEWAY_RESOURCE = "ndif_gateway";

  /**
   * "true" on the pods whose Ray offers {@link #GATEWAY_RESOURCE}, "false" on a head that does not
   * (absent on heads made before it).
   */
  public static final String GATEWAY_HOST_LABEL = "ndif.io/gateway-host";

  private static final int GATEWAY_RESOURCE_UNITS = 1000;

  // KubeRay passes the value to `ray start --resources=` through a shell, hence the quoting.
  private static final String GATEWAY_RESOURCE_PARAM =
      "\"{\\\"" + GATEWAY_RESOURCE + "\\\": " + GATEWAY_RESOURCE_UNITS + "}\"";

  private static final Map<String, Quantity> DEFAULT_HEAD_REQUESTS =
      Map.of("cpu", new Quantity("2"), "memory", new Quantity("8Gi"));
  private static final long MIN_WORKER_MEMORY = 8L << 30;

  /**
   * The head declares KubeRay's default ports: KubeRay builds the head Service from them, and uses
   * its defaults only when the container declares none.
   */
  private static final List<ContainerPort> HEAD_PORTS =
      List.of(
          port("gcs-server", 6379),
          port("dashboard", 8265),
          port("client", 10001),
          port("serve", 8000),
          port(METRICS_PORT_NAME, METRICS_PORT));

  private RayPodTemplates() {}

  /** Volumes, mounts and env added to every Ray pod's Ray container. */
  public record Additions(List<Volume> volumes, List<VolumeMount> mounts, List<EnvVar> env) {
    public static final Additions NONE = new Additions(List.of(), List.of(), List.of());

    public Additions plus(Additions other) {
      return new Additions(
          concat(volumes, other.volumes), concat(mounts, other.mounts), concat(env, other.env));
    }

    private static <T> List<T> concat(List<T> a, List<T> b) {
      List<T> all = new ArrayList<>(a);
      all.addAll(b);
      return List.copyOf(all);
    }
  }

  /**
   * A head or worker group spec, and the conflicts of its template override (empty when it has
   * none); a group with conflicts must not be applied.
   */
  public record Group(Map<String, Object> spec, List<String> conflicts) {}

  /**
   * The gateway's API key file, when the gateway is on with keys: the Secret ({@code
   * <owner>-api-keys} unless named) mounted read-only where the gateway application reads it.
   * Optional, so a missing Secret does not stop the pods; the gateway then refuses every request
   * and says why.
   */
  static final String STORE_VOLUME = "ndif-gateway-store";

  public static Additions gatewayKeys(GatewaySpec gateway, String owner) {
    GatewayAuthSpec auth = gateway.authOrDefault();
    if (!gateway.isEnabled() || !auth.required()) {
      return Additions.NONE;
    }
    String secretKey = auth.secretKey();
    Volume volume =
        new VolumeBuilder()
            .withName(API_KEYS_VOLUME)
            .withNewSecret()
            .withSecretName(auth.secretName(owner))
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
    return new Additions(List.of(volume), List.of(mount), List.of());
  }

  /** The store's password Secret, where the gateway runs (the head): never on model workers. */
  public static Additions gatewayStore(GatewaySpec gateway) {
    if (!gateway.isEnabled() || gateway.store == null || gateway.store.passwordSecretRef == null) {
      return Additions.NONE;
    }
    var ref = gateway.store.passwordSecretRef;
    Volume volume =
        new VolumeBuilder()
            .withName(STORE_VOLUME)
            .withNewSecret()
            .withSecretName(ref.getName())
            .withOptional(Boolean.TRUE.equals(ref.getOptional()))
            .withDefaultMode(0440)
            .addNewItem()
            .withKey(ref.getKey())
            .withPath(GatewayStoreSpec.PASSWORD_FILE)
            .endItem()
            .endSecret()
            .build();
    VolumeMount mount =
        new VolumeMountBuilder()
            .withName(STORE_VOLUME)
            .withMountPath(GatewayStoreSpec.MOUNT_PATH)
            .withReadOnly(true)
            .build();
    return new Additions(List.of(volume), List.of(mount), List.of());
  }

  /**
   * Hugging Face's cache on the chosen volume (an emptyDir unless told), HF_HOME pointing at it,
   * and HF_TOKEN from the token Secret by reference.
   */
  public static Additions modelCache(ModelCacheSpec cache) {
    ModelCacheSpec spec = cache == null ? new ModelCacheSpec() : cache;
    VolumeBuilder volume = new VolumeBuilder().withName(ModelCacheSpec.VOLUME_NAME);
    if (spec.persistentVolumeClaim != null) {
      volume.withPersistentVolumeClaim(spec.persistentVolumeClaim);
    } else if (spec.hostPath != null) {
      volume.withHostPath(spec.hostPath);
    } else {
      volume.withEmptyDir(spec.emptyDir != null ? spec.emptyDir : new EmptyDirVolumeSource());
    }
    VolumeMount mount =
        new VolumeMountBuilder()
            .withName(ModelCacheSpec.VOLUME_NAME)
            .withMountPath(spec.mountPathOrDefault())
            .build();
    List<EnvVar> env = new ArrayList<>();
    env.add(new EnvVarBuilder().withName("HF_HOME").withValue(spec.mountPathOrDefault()).build());
    if (spec.huggingFaceToken != null) {
      env.add(
          new EnvVarBuilder()
              .withName("HF_TOKEN")
              .withNewValueFrom()
              .withSecretKeyRef(spec.huggingFaceToken)
              .endValueFrom()
              .build());
    }
    return new Additions(List.of(volume.build()), List.of(mount), List.copyOf(env));
  }

  /**
   * @param serviceAccountToken whether the head pod keeps its service-account token (KubeRay's
   *     autoscaler sidecar needs it)
   */
  public static Group headGroup(
      HeadSpec head,
      String image,
      List<EnvVar> env,
      Map<String, String> labels,
      Additions additions,
      boolean serviceAccountToken) {
    return headGroup(head, image, env, labels, additions, serviceAccountToken, GatewayHost.HERE);
  }

  /**
   * Whether a group's pods host the gateway (they offer its Ray resource and carry {@link
   * #GATEWAY_HOST_LABEL}), and the gateway replicas' own port there (0: none), declared so that the
   * group's Service carries it.
   */
  public record GatewayHost(boolean here, int directPort) {
    public static final GatewayHost HERE = new GatewayHost(true, 0);
  }

  public static Group headGroup(
      HeadSpec head,
      String image,
      List<EnvVar> env,
      Map<String, String> labels,
      Additions additions,
      boolean serviceAccountToken,
      GatewayHost gateway) {
    HeadSpec spec = head == null ? new HeadSpec() : head;
    ResourceRequirements resources =
        spec.resources != null
            ? withMemoryLimit(spec.resources, DEFAULT_HEAD_REQUESTS.get("memory"))
            : new ResourceRequirementsBuilder()
                .withRequests(DEFAULT_HEAD_REQUESTS)
                .withLimits(Map.of("memory", new Quantity("8Gi")))
                .build();
    Map<String, String> headLabels = new java.util.LinkedHashMap<>(labels);
    // "false" rather than absent: a head without the label predates the gateway's resource.
    headLabels.put(GATEWAY_HOST_LABEL, String.valueOf(gateway.here()));
    PodTemplateSpec template =
        template(
            HEAD_CONTAINER,
            spec.image != null ? spec.image : image,
            resources,
            env,
            headLabels,
            spec.nodeSelector,
            spec.tolerations,
            withDirectPort(HEAD_PORTS, gateway),
            additions);
    var merged = PodTemplateOverrides.merge(toMap(template), override(spec.template));
    Map<String, Object> group = new LinkedHashMap<>();
    if (spec.serviceType != null) {
      group.put("serviceType", spec.serviceType.name());
    }
    // A head on a GPU node would otherwise advertise the host's GPUs to Ray. The gateway's
    // resource pins the gateway (and with it the API keys) to the head, when it runs there.
    Map<String, String> startParams = new LinkedHashMap<>();
    startParams.put("num-gpus", "0");
    startParams.put("dashboard-host", "0.0.0.0");
    startParams.put("metrics-export-port", String.valueOf(METRICS_PORT));
    if (gateway.here()) {
      startParams.put("resources", GATEWAY_RESOURCE_PARAM);
    }
    group.put("rayStartParams", startParams);
    group.put(
        "template", RayPodSecurity.harden(merged.template(), HEAD_CONTAINER, serviceAccountToken));
    return new Group(group, prefixed("head.template", merged.conflicts()));
  }

  /**
   * A worker group for one pool. {@code replicas}, {@code minReplicas} and {@code maxReplicas} are
   * decided by the caller, which knows the autoscaling mode.
   */
  public static Group workerGroup(
      PoolSpec pool,
      String image,
      List<EnvVar> env,
      Map<String, String> labels,
      int replicas,
      int minReplicas,
      int maxReplicas,
      Additions additions) {
    Map<String, Quantity> gpus = Map.of(GPU_RESOURCE, new Quantity(pool.gpusPerNode.toString()));
    ResourceRequirementsBuilder resources =
        new ResourceRequirementsBuilder(
            withMemoryLimit(
                pool.resources == null ? new ResourceRequirements() : pool.resources,
                defaultWorkerMemory(pool)));
    // KubeRay reads GPUs from limits; for extended resources requests must equal limits.
    resources.addToLimits(gpus).addToRequests(gpus);
    Map<String, String> nodeSelector = new LinkedHashMap<>();
    if (pool.gpuProduct != null && !pool.gpuProduct.isBlank()) {
      nodeSelector.put(GPU_PRODUCT_LABEL, pool.gpuProduct);
    }
    if (pool.nodeSelector != null) {
      nodeSelector.putAll(pool.nodeSelector);
    }
    Map<String, String> startParams = new LinkedHashMap<>();
    if (pool.rayStartParams != null) {
      startParams.putAll(pool.rayStartParams);
    }
    startParams.putIfAbsent("metrics-export-port", String.valueOf(METRICS_PORT));
    // Ray is told the pool's GPUs, as the planner and the scheduler count them, rather than left to
    // detect them (KubeRay no longer passes the limit on): the same on a GPU node, and a node that
    // only advertises nvidia.com/gpu still gives Ray its GPUs.
    startParams.put("num-gpus", String.valueOf(pool.gpusPerNode));
    // The pool's custom resource lets a Serve deployment be pinned to this pool.
    // KubeRay passes the value to `ray start --resources=` through a shell, hence the quoting.
    startParams.put(
        "resources",
        "\"{\\\"" + KubeRay.poolResource(pool.name) + "\\\": " + pool.gpusPerNode + "}\"");
    PodTemplateSpec template =
        template(
            WORKER_CONTAINER,
            pool.image != null ? pool.image : image,
            resources.build(),
            env,
            labels,
            nodeSelector,
            pool.tolerations,
            List.of(
                port(METRICS_PORT_NAME, Integer.parseInt(startParams.get("metrics-export-port")))),
            additions);
    var merged = PodTemplateOverrides.merge(toMap(template), override(pool.template));

    Map<String, Object> group = new LinkedHashMap<>();
    group.put("groupName", pool.name);
    group.put("replicas", replicas);
    group.put("minReplicas", minReplicas);
    group.put("maxReplicas", maxReplicas);
    group.put("rayStartParams", startParams);
    group.put("template", RayPodSecurity.harden(merged.template(), WORKER_CONTAINER, false));
    return new Group(group, prefixed("pools[" + pool.name + "].template", merged.conflicts()));
  }

  /**
   * The gateway's own worker group (placement Workers): no GPUs, its pods offer the gateway's Ray
   * resource and hold the Secrets the gateway reads, and nothing else runs there. Each pod has Ray
   * CPUs for every gateway replica (Serve may put them all on one) and one more.
   */
  public static Group gatewayGroup(
      GatewaySpec gateway,
      String image,
      List<EnvVar> env,
      Map<String, String> labels,
      Additions additions,
      int directPort) {
    GatewayWorkersSpec workers = gateway.workersOrDefault();
    int replicas = gateway.replicas == null ? 1 : gateway.replicas;
    double cpus = gateway.cpus == null ? 1.0 : gateway.cpus;
    int rayCpus = (int) Math.ceil(replicas * cpus) + 1;
    ResourceRequirements resources =
        workers.resources != null
            ? withMemoryLimit(workers.resources, new Quantity((2 + replicas) + "Gi"))
            : new ResourceRequirementsBuilder()
                .withRequests(Map.of("cpu", new Quantity("1"), "memory", new Quantity("1Gi")))
                .withLimits(Map.of("memory", new Quantity((2 + replicas) + "Gi")))
                .build();
    Map<String, String> podLabels = new LinkedHashMap<>(labels);
    podLabels.put(GATEWAY_HOST_LABEL, "true");
    Map<String, String> startParams = new LinkedHashMap<>();
    startParams.put("num-gpus", "0");
    startParams.put("num-cpus", String.valueOf(rayCpus));
    startParams.put("metrics-export-port", String.valueOf(METRICS_PORT));
    startParams.put("resources", GATEWAY_RESOURCE_PARAM);
    PodTemplateSpec template =
        template(
            WORKER_CONTAINER,
            image,
            resources,
            env,
            podLabels,
            workers.nodeSelector,
            workers.tolerations,
            withDirectPort(
                List.of(port("serve", KubeRay.SERVE_PORT), port(METRICS_PORT_NAME, METRICS_PORT)),
                new GatewayHost(true, directPort)),
            additions);
    var merged = PodTemplateOverrides.merge(toMap(template), override(workers.template));
    int nodes = workers.nodesOrDefault();
    Map<String, Object> group = new LinkedHashMap<>();
    group.put("groupName", GatewayWorkersSpec.GROUP);
    group.put("replicas", nodes);
    group.put("minReplicas", nodes);
    group.put("maxReplicas", nodes);
    group.put("rayStartParams", startParams);
    group.put("template", RayPodSecurity.harden(merged.template(), WORKER_CONTAINER, false));
    return new Group(group, prefixed("gateway.workers.template", merged.conflicts()));
  }

  /** gpusPerNode x gpuMemory, at least 8Gi. */
  static Quantity defaultWorkerMemory(PoolSpec pool) {
    long bytes;
    try {
      bytes = Quantity.getAmountInBytes(new Quantity(pool.gpuMemory)).longValue();
    } catch (RuntimeException e) {
      bytes = 0;
    }
    long total = Math.max(MIN_WORKER_MEMORY, bytes * pool.gpusPerNode);
    return new Quantity(String.valueOf(total >> 20), "Mi");
  }

  /**
   * Every Ray container gets a memory limit: KubeRay sizes the memory-backed /dev/shm (Ray's object
   * store) from it, and without one a pod may take its node's memory. A request above the default
   * becomes the limit.
   */
  private static ResourceRequirements withMemoryLimit(
      ResourceRequirements resources, Quantity fallback) {
    if (resources.getLimits() != null && resources.getLimits().containsKey("memory")) {
      return resources;
    }
    Quantity requested =
        resources.getRequests() == null ? null : resources.getRequests().get("memory");
    Quantity limit =
        requested != null
                && Quantity.getAmountInBytes(requested)
                        .compareTo(Quantity.getAmountInBytes(fallback))
                    > 0
            ? requested
            : fallback;
    return new ResourceRequirementsBuilder(resources).addToLimits("memory", limit).build();
  }

  private static List<String> prefixed(String where, List<String> conflicts) {
    return conflicts.stream().map(c -> where + " " + c).toList();
  }

  private static List<ContainerPort> withDirectPort(List<ContainerPort> ports, GatewayHost host) {
    if (!host.here() || host.directPort() == 0) {
      return ports;
    }
    List<ContainerPort> all = new ArrayList<>(ports);
    all.add(port(DIRECT_PORT_NAME, host.directPort()));
    return List.copyOf(all);
  }

  private static ContainerPort port(String name, int number) {
    return new ContainerPortBuilder()
        .withName(name)
        .withContainerPort(number)
        .withProtocol("TCP")
        .build();
  }

  private static PodTemplateSpec template(
      String containerName,
      String image,
      ResourceRequirements resources,
      List<EnvVar> env,
      Map<String, String> labels,
      Map<String, String> nodeSelector,
      List<Toleration> tolerations,
      List<ContainerPort> ports,
      Additions additions) {
    List<EnvVar> allEnv = new ArrayList<>(env);
    allEnv.addAll(additions.env());
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
                .withEnv(allEnv.isEmpty() ? null : allEnv)
                .withPorts(ports)
                .withVolumeMounts(additions.mounts().isEmpty() ? null : additions.mounts())
                .build())
        .withVolumes(additions.volumes().isEmpty() ? null : additions.volumes())
        .withNodeSelector(nodeSelector == null || nodeSelector.isEmpty() ? null : nodeSelector)
        .withTolerations(tolerations)
        .endSpec()
        .build();
  }

  private static Map<String, Object> override(Object template) {
    return template == null ? null : toMap(template);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> toMap(Object value) {
    return Serialization.jsonMapper().convertValue(value, Map.class);
  }
}
