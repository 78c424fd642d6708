package io.ndif.operator.ray;

import io.ndif.operator.api.GatewayAuthSpec;
import io.ndif.operator.api.GatewayLimitsSpec;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.GatewayStoreSpec;
import io.ndif.operator.api.ModelSpec;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.Quantities;
import io.ndif.operator.api.ServeSpec;
import io.ndif.operator.deployment.ModelKeys;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds Ray Serve's multi-application config (ServeDeploySchema) for the admitted deployments of
 * one cluster: one application each, with one deployment pinned to its pool's Ray resource.
 */
public final class ServeConfigs {
  /** The application the operator serves by default (the package under serve/). */
  public static final String DEFAULT_IMPORT_PATH = ServeSpec.DEFAULT_IMPORT_PATH;

  /** Name of the Serve deployment inside each application. */
  public static final String MODEL_DEPLOYMENT = "ModelDeployment";

  /** The gateway application's builder, in the same package as the models'. */
  public static final String GATEWAY_IMPORT_PATH = "ndif_serve.app:build_gateway";

  public static final int DEFAULT_MAX_QUEUED_REQUESTS = 64;

  /**
   * The application argument that names the NdifCluster owning it ({@code <namespace>/<name>}), in
   * models' and the gateway's arguments alike: Ray keeps it with the application, so ownership
   * survives a lost status write and a shared Ray cluster's other tenants are told apart.
   */
  public static final String OWNER_ARG = "cluster";

  /** The argument that says who may run in a replica's process rather than contained. */
  public static final String IN_PROCESS_ARG = "in_process";

  /** The gateway's argument that says how long a removed model replica drains. */
  public static final String DRAIN_GRACE_ARG = "drain_grace_seconds";

  /** The argument that names the owning NdifDeployment ({@code <namespace>/<name>}). */
  public static final String DEPLOYMENT_ARG = "deployment";

  private ServeConfigs() {}

  /** One admitted deployment and where the plan put it. */
  /** Host memory per node for the warm tier, in the gateway's and every model's arguments. */
  public static final String WARM_BUDGET_ARG = "warm_budget_bytes";

  /** The port each gateway replica serves NDIF's API on itself, past Serve's HTTP proxy. */
  public static final String DIRECT_PORT_ARG = "direct_port";

  public record Admitted(NdifDeployment deployment, String pool, double gpusPerReplica) {}

  /** The admitted deployments' applications, then the gateway's when there is one. */
  public static Map<String, Object> config(List<Admitted> admitted, Map<String, Object> gateway) {
    List<Map<String, Object>> applications = new ArrayList<>();
    // The replicas follow the trust policy of the gateway that sends them requests; without one,
    // nobody runs in their processes.
    String inProcess =
        gateway != null && gateway.get("args") instanceof Map<?, ?> args
            ? String.valueOf(args.get(IN_PROCESS_ARG))
            : GatewaySpec.InProcess.Nobody.argument();
    // A model replica that goes away finishes its running request within the gateway's grace.
    Object grace =
        gateway != null && gateway.get("args") instanceof Map<?, ?> args
            ? args.get(DRAIN_GRACE_ARG)
            : null;
    int drainGrace =
        grace instanceof Number n
            ? n.intValue()
            : GatewayLimitsSpec.DEFAULT_DRAIN_GRACE_PERIOD_SECONDS;
    // The cluster's warm tier, which the gateway reports: its replicas keep what they stop.
    long warmBudget =
        gateway != null
                && gateway.get("args") instanceof Map<?, ?> args
                && args.get(WARM_BUDGET_ARG) instanceof Number n
            ? n.longValue()
            : 0;
    admitted.stream()
        .sorted(java.util.Comparator.comparing(a -> applicationName(a.deployment())))
        .forEach(a -> applications.add(application(a, inProcess, drainGrace, warmBudget)));
    if (gateway != null) {
      applications.add(gateway);
    }
    Map<String, Object> config = new LinkedHashMap<>();
    config.put("applications", applications);
    return config;
  }

  /**
   * The Serve application of a deployment on a shared cluster is {@code <namespace>_<name>}: an
   * underscore is in no Kubernetes name, so two namespaces' deployments of one name never meet on a
   * Ray cluster they share. A Dedicated deployment's application keeps its name, alone on its own
   * Ray cluster.
   */
  public static String applicationName(NdifDeployment d) {
    return d.getSpec().usesDedicatedIsolation()
        ? d.getMetadata().getName()
        : sharedApplicationName(d.getMetadata().getNamespace(), d.getMetadata().getName());
  }

  public static String sharedApplicationName(String namespace, String deployment) {
    return namespace + "_" + deployment;
  }

  /** {@code <namespace>/<name>} of an NdifCluster, as its applications' owner argument says it. */
  public static String owner(String namespace, String clusterName) {
    return namespace + "/" + clusterName;
  }

  public static String routePrefix(NdifDeployment d) {
    var serve = d.getSpec().serve;
    return serve != null && serve.routePrefix != null
        ? serve.routePrefix
        : "/" + d.getMetadata().getNamespace() + "/" + d.getMetadata().getName();
  }

  static Map<String, Object> application(
      Admitted a, String inProcess, int drainGraceSeconds, long warmBudgetBytes) {
    NdifDeploymentSpec spec = a.deployment().getSpec();
    ModelSpec model = spec.model;
    var serve = spec.serve;
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("model_key", ModelKeys.of(model));
    args.put("repo_id", model.repoId);
    if (model.revision != null) {
      args.put("revision", model.revision);
    }
    args.put("wrapper", model.wrapper == null ? ModelSpec.DEFAULT_WRAPPER : model.wrapper);
    args.put("dtype", jsonName(model.dtype == null ? ModelSpec.Dtype.BFLOAT16 : model.dtype));
    args.put("trust_remote_code", Boolean.TRUE.equals(model.trustRemoteCode));
    if (spec.executionTimeoutSeconds != null) {
      args.put("execution_timeout_seconds", spec.executionTimeoutSeconds);
    }
    if (serve != null && serve.args != null && serve.args.getValue() instanceof Map<?, ?> extra) {
      extra.forEach((k, v) -> args.put(String.valueOf(k), v));
    }
    // After the author's own arguments, so that no spec can claim another owner or let callers
    // out of containment.
    args.put(IN_PROCESS_ARG, inProcess);
    if (!spec.usesDedicatedIsolation() && spec.clusterRef != null) {
      String namespace = a.deployment().getMetadata().getNamespace();
      args.put(OWNER_ARG, owner(namespace, spec.clusterRef));
      args.put(DEPLOYMENT_ARG, namespace + "/" + a.deployment().getMetadata().getName());
    }
    if (warmBudgetBytes > 0) {
      // The spec's priority, not a window's raised one: a change of arguments restarts replicas.
      args.put(WARM_BUDGET_ARG, warmBudgetBytes);
      args.put("priority", spec.priority == null ? 0 : spec.priority);
      args.put("pool", a.pool());
    }

    Map<String, Object> actorOptions = new LinkedHashMap<>();
    actorOptions.put("num_gpus", a.gpusPerReplica());
    actorOptions.put(
        "num_cpus",
        spec.resources != null && spec.resources.cpus != null ? spec.resources.cpus : 1.0);
    actorOptions.put("resources", Map.of(KubeRay.poolResource(a.pool()), a.gpusPerReplica()));

    Map<String, Object> deployment = new LinkedHashMap<>();
    deployment.put("name", MODEL_DEPLOYMENT);
    if (spec.autoscaling != null) {
      Map<String, Object> autoscaling = new LinkedHashMap<>();
      putIfSet(autoscaling, "min_replicas", spec.autoscaling.minReplicas);
      putIfSet(autoscaling, "max_replicas", spec.autoscaling.maxReplicas);
      putIfSet(autoscaling, "target_ongoing_requests", spec.autoscaling.targetOngoingRequests);
      deployment.put("autoscaling_config", autoscaling);
    } else {
      deployment.put("num_replicas", spec.replicas == null ? 1 : spec.replicas);
    }
    // One nnsight request at a time per replica, behind a bounded queue.
    deployment.put("max_ongoing_requests", 1);
    deployment.put(
        "max_queued_requests",
        spec.maxQueuedRequests == null ? DEFAULT_MAX_QUEUED_REQUESTS : spec.maxQueuedRequests);
    deployment.put("ray_actor_options", actorOptions);
    // Removed from the config (preempted, scaled down, deleted): Serve stops sending it requests
    // and waits this long for the running one, checking every 2 s.
    deployment.put("graceful_shutdown_timeout_s", drainGraceSeconds);
    deployment.put("graceful_shutdown_wait_loop_s", 2);

    Map<String, Object> app = new LinkedHashMap<>();
    app.put("name", applicationName(a.deployment()));
    app.put("route_prefix", routePrefix(a.deployment()));
    app.put(
        "import_path",
        serve != null && serve.importPath != null ? serve.importPath : DEFAULT_IMPORT_PATH);
    app.put(
        "runtime_env",
        serve != null && serve.runtimeEnv != null && serve.runtimeEnv.getValue() != null
            ? serve.runtimeEnv.getValue()
            : Map.of());
    app.put("args", args);
    app.put("deployments", List.of(deployment));
    return app;
  }

  /** The gateway application with its replicas' own port (none when 0 or there is no gateway). */
  @SuppressWarnings("unchecked")
  public static Map<String, Object> withDirectPort(Map<String, Object> gateway, int port) {
    if (gateway != null && port > 0) {
      ((Map<String, Object>) gateway.get("args")).put(DIRECT_PORT_ARG, port);
    }
    return gateway;
  }

  /**
   * The gateway application (NDIF's API) for a cluster, or null when it is off.
   *
   * @param keysFile where the gateway reads its API keys on the Ray nodes (null when auth is off)
   * @param cluster {@code <namespace>/<name>}, for the gateway's logs
   */
  public static Map<String, Object> gateway(
      GatewaySpec gateway, String keysFile, String cluster, Map<String, Object> runtimeEnv) {
    return gateway(gateway, keysFile, cluster, runtimeEnv, false);
  }

  /**
   * @param onHead pin the gateway's replicas and its broker to the pods that offer the gateway's
   *     Ray resource (the head, or the gateway's own workers), the only Ray pods with its Secrets
   */
  public static Map<String, Object> gateway(
      GatewaySpec gateway,
      String keysFile,
      String cluster,
      Map<String, Object> runtimeEnv,
      boolean onHead) {
    if (!gateway.isEnabled()) {
      return null;
    }
    GatewayAuthSpec auth = gateway.authOrDefault();
    GatewayLimitsSpec limits = gateway.limitsOrDefault();
    Map<String, Object> args = new LinkedHashMap<>();
    args.put("auth", auth.required() ? "ApiKeys" : "None");
    if (auth.required()) {
      args.put("keys_file", keysFile);
    }
    args.put(
        "max_request_bytes",
        Quantities.bytes(
            limits.maxRequestSize == null
                ? GatewayLimitsSpec.DEFAULT_MAX_REQUEST_SIZE
                : limits.maxRequestSize));
    args.put(
        "max_inline_result_bytes",
        Quantities.bytes(
            limits.maxInlineResultSize == null
                ? GatewayLimitsSpec.DEFAULT_MAX_INLINE_RESULT_SIZE
                : limits.maxInlineResultSize));
    args.put(
        "result_ttl_seconds",
        limits.resultTtlSeconds == null
            ? GatewayLimitsSpec.DEFAULT_RESULT_TTL_SECONDS
            : limits.resultTtlSeconds);
    args.put(OWNER_ARG, cluster);
    args.put(IN_PROCESS_ARG, gateway.inProcessOrDefault().argument());
    args.put(
        DRAIN_GRACE_ARG,
        limits.drainGracePeriodSeconds == null
            ? GatewayLimitsSpec.DEFAULT_DRAIN_GRACE_PERIOD_SECONDS
            : limits.drainGracePeriodSeconds);
    args.put(
        "max_wait_seconds",
        limits.maxWaitSeconds == null
            ? GatewayLimitsSpec.DEFAULT_MAX_WAIT_SECONDS
            : limits.maxWaitSeconds);

    if (gateway.store != null) {
      Map<String, Object> store = new LinkedHashMap<>();
      store.put("url", gateway.store.url());
      if (gateway.store.passwordSecretRef != null) {
        store.put(
            "password_file", GatewayStoreSpec.MOUNT_PATH + "/" + GatewayStoreSpec.PASSWORD_FILE);
      }
      // Clusters sharing one Redis keep apart.
      store.put("prefix", "ndif:" + cluster);
      store.put(
          "job_ttl_seconds",
          gateway.store.jobTtlSeconds == null
              ? GatewayStoreSpec.DEFAULT_JOB_TTL_SECONDS
              : gateway.store.jobTtlSeconds);
      store.put(
          "lease_seconds",
          gateway.store.leaseSeconds == null
              ? GatewayStoreSpec.DEFAULT_LEASE_SECONDS
              : gateway.store.leaseSeconds);
      args.put("store", store);
    }

    Map<String, Object> front = new LinkedHashMap<>();
    front.put("name", "Gateway");
    front.put("num_replicas", gateway.replicas == null ? 1 : gateway.replicas);
    Map<String, Object> frontOptions = new LinkedHashMap<>();
    frontOptions.put("num_cpus", gateway.cpus == null ? 1.0 : gateway.cpus);
    Map<String, Object> brokerOptions = new LinkedHashMap<>();
    brokerOptions.put("num_cpus", 0.0);
    if (onHead) {
      frontOptions.put("resources", Map.of(RayPodTemplates.GATEWAY_RESOURCE, 1));
      brokerOptions.put("resources", Map.of(RayPodTemplates.GATEWAY_RESOURCE, 1));
    }
    front.put("ray_actor_options", frontOptions);
    Map<String, Object> broker = new LinkedHashMap<>();
    broker.put("name", "JobBroker");
    broker.put("num_replicas", 1);
    broker.put("ray_actor_options", brokerOptions);

    Map<String, Object> app = new LinkedHashMap<>();
    app.put("name", GatewaySpec.APPLICATION);
    app.put("route_prefix", "/");
    app.put("import_path", GATEWAY_IMPORT_PATH);
    app.put("runtime_env", runtimeEnv == null ? Map.of() : runtimeEnv);
    app.put("args", args);
    // With a store, every gateway replica keeps jobs there itself: there is no broker.
    app.put("deployments", gateway.store != null ? List.of(front) : List.of(front, broker));
    return app;
  }

  private static void putIfSet(Map<String, Object> map, String key, Object value) {
    if (value != null) {
      map.put(key, value);
    }
  }

  private static String jsonName(ModelSpec.Dtype dtype) {
    return dtype.name().toLowerCase(java.util.Locale.ROOT);
  }
}
