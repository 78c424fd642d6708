package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.ndif.operator.api.AutoscalingMode;
import io.ndif.operator.api.FaultToleranceSpec;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.GatewayStoreSpec;
import io.ndif.operator.api.GatewayWorkersSpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterSpec;
import io.ndif.operator.api.PoolSpec;
import io.ndif.operator.ray.RayPodTemplates;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Maps an NdifCluster's spec to a KubeRay RayCluster spec. */
public final class RayClusterSpecs {
  private RayClusterSpecs() {}

  /**
   * @param live the RayCluster as it is, or null. In Ray mode the autoscaler owns each group's
   *     replicas and workersToDelete, and the atomic group list must echo them.
   * @param poolsWithPods pools that still have worker pods. KubeRay leaves the pods of a group that
   *     disappears from the spec running, so a removed pool stays as a group of zero replicas until
   *     its pods are gone.
   * @param plannedNodes nodes per pool that the placement plan needs (Operator mode)
   */
  /**
   * @param spec the RayCluster spec
   * @param conflicts where the head's or a pool's template override conflicts with what the
   *     operator sets; a spec with conflicts must not be applied
   */
  public record Desired(Map<String, Object> spec, List<String> conflicts) {}

  /** The template override conflicts of a cluster's head and pools; empty when there are none. */
  public static List<String> conflicts(NdifCluster cluster) {
    return desired(cluster, null, Set.of(), Map.of(), true, RayAuth.wanted(cluster)).conflicts();
  }

  public static Desired desired(
      NdifCluster cluster,
      GenericKubernetesResource live,
      Set<String> poolsWithPods,
      Map<String, Integer> plannedNodes) {
    return desired(cluster, live, poolsWithPods, plannedNodes, true, RayAuth.wanted(cluster));
  }

  /**
   * @param gatewayPinned whether the gateway is pinned to the pods that host it, the head or its
   *     own worker group ({@link GatewayPlacement}): then only they hold its Secrets
   * @param auth Ray's token authentication as the live pods allow ({@link RayAuth})
   */
  public static Desired desired(
      NdifCluster cluster,
      GenericKubernetesResource live,
      Set<String> poolsWithPods,
      Map<String, Integer> plannedNodes,
      boolean gatewayPinned,
      RayAuth.Effective auth) {
    NdifClusterSpec spec = cluster.getSpec();
    AutoscalingMode mode = spec.autoscalingMode();
    List<EnvVar> env = new ArrayList<>(spec.env == null ? List.of() : spec.env);
    if (auth == RayAuth.Effective.OFF
        && env.stream().noneMatch(e -> RayAuth.MODE_ENV.equals(e.getName()))) {
      // Off whatever Ray's own default is (KubeRay sets nothing when authOptions is disabled).
      env.add(new EnvVar(RayAuth.MODE_ENV, "disabled", null));
    }
    Map<String, Map<String, Object>> allLiveGroups = LiveWorkerGroups.byName(live);
    Map<String, Map<String, Object>> liveGroups =
        mode == AutoscalingMode.Ray ? allLiveGroups : Map.of();

    Map<String, Object> result = new LinkedHashMap<>();
    result.put("rayVersion", spec.rayVersion);
    result.put("authOptions", RayAuth.authOptions(auth));
    if (mode == AutoscalingMode.Ray) {
      result.put("enableInTreeAutoscaling", true);
      if (spec.autoscaling.idleTimeoutSeconds != null) {
        result.put(
            "autoscalerOptions", Map.of("idleTimeoutSeconds", spec.autoscaling.idleTimeoutSeconds));
      }
    }
    Map<String, Object> gcsFaultTolerance = gcsFaultTolerance(spec);
    if (gcsFaultTolerance != null) {
      result.put("gcsFaultToleranceOptions", gcsFaultTolerance);
    }
    GatewaySpec gateway = GatewaySpec.of(spec);
    boolean gatewayOnWorkers = GatewayPlacement.onWorkers(spec);
    int directPort = gateway.isEnabled() ? gateway.directPortFor(false) : 0;
    RayPodTemplates.Additions secrets = gatewaySecrets(cluster);
    RayPodTemplates.Additions additions =
        gatewayPinned ? workerAdditions(cluster) : workerAdditions(cluster).plus(secrets);
    RayPodTemplates.Additions headAdditions =
        gatewayPinned && !gatewayOnWorkers ? additions.plus(secrets) : additions;
    List<String> conflicts = new ArrayList<>();
    var head =
        RayPodTemplates.headGroup(
            spec.head,
            spec.image,
            env,
            ClusterLabels.forCluster(cluster),
            headAdditions,
            mode == AutoscalingMode.Ray,
            new RayPodTemplates.GatewayHost(!gatewayOnWorkers, directPort));
    conflicts.addAll(head.conflicts());
    result.put("headGroupSpec", head.spec());
    List<Map<String, Object>> groups = new ArrayList<>();
    if (gatewayOnWorkers) {
      var gatewayGroup =
          RayPodTemplates.gatewayGroup(
              gateway,
              spec.image,
              env,
              ClusterLabels.forPool(cluster, GatewayWorkersSpec.GROUP),
              secrets,
              directPort);
      conflicts.addAll(gatewayGroup.conflicts());
      Map<String, Object> group = gatewayGroup.spec();
      Map<String, Object> liveGroup = liveGroups.get(GatewayWorkersSpec.GROUP);
      if (liveGroup != null && liveGroup.get("scaleStrategy") != null) {
        group.put("scaleStrategy", liveGroup.get("scaleStrategy"));
      }
      groups.add(group);
    }
    for (PoolSpec pool : spec.pools) {
      Map<String, Object> liveGroup = liveGroups.get(pool.name);
      Integer liveReplicas = liveGroup == null ? null : asInteger(liveGroup.get("replicas"));
      PoolSizing sizing = PoolSizing.of(pool, mode, liveReplicas, plannedNodes.get(pool.name));
      var worker =
          RayPodTemplates.workerGroup(
              pool,
              spec.image,
              env,
              ClusterLabels.forPool(cluster, pool.name),
              sizing.replicas(),
              sizing.minReplicas(),
              sizing.maxReplicas(),
              additions);
      conflicts.addAll(worker.conflicts());
      Map<String, Object> group = worker.spec();
      if (liveGroup != null && liveGroup.get("scaleStrategy") != null) {
        group.put("scaleStrategy", liveGroup.get("scaleStrategy"));
      }
      groups.add(group);
    }
    allLiveGroups.forEach(
        (name, liveGroup) -> {
          boolean removed =
              spec.pools.stream().noneMatch(p -> p.name.equals(name))
                  && !(gatewayOnWorkers && GatewayWorkersSpec.GROUP.equals(name));
          if (removed && poolsWithPods.contains(name)) {
            Map<String, Object> draining = new LinkedHashMap<>(liveGroup);
            draining.put("replicas", 0);
            draining.put("minReplicas", 0);
            draining.put("maxReplicas", 0);
            draining.remove("scaleStrategy");
            groups.add(draining);
          }
        });
    result.put("workerGroupSpecs", groups);
    return new Desired(result, List.copyOf(conflicts));
  }

  /** The Secrets the gateway reads: its API keys and its store's password. */
  static RayPodTemplates.Additions gatewaySecrets(NdifCluster cluster) {
    GatewaySpec gateway = GatewaySpec.of(cluster.getSpec());
    return RayPodTemplates.gatewayKeys(gateway, cluster.getMetadata().getName())
        .plus(RayPodTemplates.gatewayStore(gateway));
  }

  /** The model cache: Serve may place a model replica on any worker. */
  static RayPodTemplates.Additions workerAdditions(NdifCluster cluster) {
    return RayPodTemplates.modelCache(cluster.getSpec().modelCache);
  }

  /**
   * KubeRay's GCS fault tolerance: the Redis named for it, else the gateway's job store (one Redis
   * for both; Ray's keys are apart under the RayCluster's UID), else none.
   */
  static Map<String, Object> gcsFaultTolerance(NdifClusterSpec spec) {
    FaultToleranceSpec faultTolerance = spec.faultTolerance;
    if (faultTolerance != null && faultTolerance.redis != null) {
      return redis(faultTolerance.redis.address, faultTolerance.redis.passwordSecretRef);
    }
    GatewayStoreSpec store =
        spec.gateway == null || spec.gateway.store == null ? null : spec.gateway.store;
    if (store == null || (faultTolerance != null && !faultTolerance.usesGatewayStore())) {
      return null;
    }
    String address = Boolean.TRUE.equals(store.tls) ? "rediss://" + store.address : store.address;
    return redis(address, store.passwordSecretRef);
  }

  private static Map<String, Object> redis(
      String address, io.fabric8.kubernetes.api.model.SecretKeySelector password) {
    Map<String, Object> options = new LinkedHashMap<>();
    options.put("redisAddress", address);
    if (password != null) {
      options.put(
          "redisPassword",
          Map.of(
              "valueFrom",
              Map.of(
                  "secretKeyRef", Map.of("name", password.getName(), "key", password.getKey()))));
    }
    return options;
  }

  private static Integer asInteger(Object value) {
    return value instanceof Number n ? n.intValue() : null;
  }
}
