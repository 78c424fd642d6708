package io.ndif.operator.cluster;

import io.ndif.operator.api.GatewayAuthSpec;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.ServeConfigs;
import java.util.Map;

/**
 * The cluster's NDIF gateway: its Serve application in the config, and what status says of it (the
 * URL for NDIF_HOST, whether it runs, whether auth is off).
 */
public final class ClusterGateway {
  public static final String READY = "GatewayReady";
  public static final String AUTH_DISABLED = "GatewayAuthDisabled";
  public static final String CONTAINMENT_DISABLED = "GatewayContainmentDisabled";

  private ClusterGateway() {}

  /** The gateway application for the cluster's Serve config, or null when it is off. */
  public static Map<String, Object> application(NdifCluster cluster) {
    return application(cluster, false);
  }

  /**
   * @param pinned whether the gateway is pinned to the pods that host it ({@link
   *     GatewayPlacement#pinned})
   */
  public static Map<String, Object> application(NdifCluster cluster, boolean pinned) {
    return application(cluster, pinned, null);
  }

  /**
   * @param rayToken the cluster's Ray token, which the operator's on-demand token is derived from,
   *     or null when it has none
   */
  public static Map<String, Object> application(
      NdifCluster cluster, boolean pinned, String rayToken) {
    GatewaySpec gateway = GatewaySpec.of(cluster.getSpec());
    var app =
        ServeConfigs.gateway(
            gateway,
            keysFile(cluster),
            ServeConfigs.owner(
                cluster.getMetadata().getNamespace(), cluster.getMetadata().getName()),
            null,
            pinned);
    ServeConfigs.withDirectPort(
        app, gateway.directPortFor(cluster.getSpec().usesExternalCluster()));
    var warmTier = cluster.getSpec().warmTier;
    if (app != null && warmTier != null) {
      @SuppressWarnings("unchecked")
      var args = (Map<String, Object>) app.get("args");
      args.put(ServeConfigs.WARM_BUDGET_ARG, warmTier.budgetBytes());
    }
    var onDemand = cluster.getSpec().onDemand;
    if (app != null && (onDemand != null || warmTier != null)) {
      @SuppressWarnings("unchecked")
      var args = (Map<String, Object>) app.get("args");
      args.put("operator_token", OnDemandToken.of(cluster, rayToken));
    }
    if (app != null && onDemand != null) {
      @SuppressWarnings("unchecked")
      var args = (Map<String, Object>) app.get("args");
      Map<String, Object> settings = new java.util.LinkedHashMap<>();
      settings.put("models", onDemand.models.stream().map(m -> m.repoId).toList());
      settings.put("max_wait_seconds", onDemand.maxWaitSecondsOrDefault());
      settings.put("token", OnDemandToken.of(cluster, rayToken));
      args.put("on_demand", settings);
    }
    return app;
  }

  /** Where the gateway reads its keys: the mounted Secret, or an adopted cluster's own path. */
  static String keysFile(NdifCluster cluster) {
    GatewayAuthSpec auth = GatewaySpec.of(cluster.getSpec()).authOrDefault();
    if (cluster.getSpec().usesExternalCluster()) {
      return auth.keysFile;
    }
    return auth.mountedKeysFile();
  }

  /**
   * The gateway replicas' own port: on a managed cluster's gateway Service (the pods that host the
   * gateway), on an adopted cluster's proxy host; null when there is none.
   */
  static String directUrl(NdifCluster cluster, NdifClusterStatus status) {
    boolean adopted = cluster.getSpec().usesExternalCluster();
    int port = GatewaySpec.of(cluster.getSpec()).directPortFor(adopted);
    if (port == 0) {
      return null;
    }
    if (adopted) {
      return status.serveUrl == null ? null : KubeRay.withPort(status.serveUrl, port);
    }
    return "http://"
        + GatewayServices.name(cluster)
        + "."
        + cluster.getMetadata().getNamespace()
        + ".svc:"
        + port;
  }

  /** The URL nnsight's client is given: KubeRay's serve Service, or an adopted cluster's proxy. */
  static String url(NdifCluster cluster, NdifClusterStatus status) {
    if (cluster.getSpec().usesExternalCluster()) {
      return status.serveUrl;
    }
    return KubeRay.serveServiceUrl(
        cluster.getMetadata().getName(), cluster.getMetadata().getNamespace());
  }

  /**
   * Fills status.gateway and the gateway's conditions from what the Serve sync saw.
   *
   * @param serveError why the dashboard could not be read, or null
   * @param reachable whether the Ray head could be asked at all
   */
  public static void build(
      NdifCluster cluster,
      NdifClusterStatus status,
      Conditions conditions,
      boolean reachable,
      String serveError) {
    GatewaySpec spec = GatewaySpec.of(cluster.getSpec());
    if (!spec.isEnabled()) {
      status.gateway = null;
      conditions.set(READY, false, "Disabled", "spec.gateway.enabled is false");
      conditions.set(AUTH_DISABLED, false, "Disabled", "there is no gateway");
      conditions.set(CONTAINMENT_DISABLED, false, "Disabled", "there is no gateway");
      return;
    }
    var gateway = new NdifClusterStatus.GatewayStatus();
    gateway.url = url(cluster, status);
    gateway.directUrl = directUrl(cluster, status);
    if (!cluster.getSpec().usesExternalCluster()) {
      gateway.placement =
          (GatewayPlacement.onWorkers(cluster.getSpec())
                  ? GatewaySpec.Placement.Workers
                  : GatewaySpec.Placement.Head)
              .name();
    }
    boolean auth = spec.authOrDefault().required();
    gateway.auth = auth ? "ApiKeys" : "None";
    var app =
        status.serve == null
            ? null
            : status.serve.applications.stream()
                .filter(a -> GatewaySpec.APPLICATION.equals(a.name))
                .findFirst()
                .orElse(null);
    gateway.application = app == null ? null : app.status;
    gateway.message = app == null ? null : app.message;
    gateway.ready = app != null && "RUNNING".equals(app.status);
    status.gateway = gateway;

    if (!reachable) {
      conditions.set(READY, Conditions.UNKNOWN, "WaitingForHead", "the Ray head is not ready");
    } else if (serveError != null) {
      conditions.set(READY, Conditions.UNKNOWN, "DashboardUnreachable", serveError);
    } else if (app == null) {
      conditions.set(READY, false, "NotDeployed", "the gateway is not in Ray's Serve config yet");
    } else if (gateway.ready) {
      conditions.set(READY, true, "Serving", "NDIF's API is served at " + gateway.url);
    } else if ("DEPLOY_FAILED".equals(app.status) || "UNHEALTHY".equals(app.status)) {
      conditions.set(
          READY, false, "DeployFailed", "the gateway application is " + app.status + describe(app));
    } else if (ServeSync.NAME_TAKEN.equals(app.status)) {
      conditions.set(READY, false, "NameTaken", app.message);
    } else {
      conditions.set(
          READY, false, "Deploying", "the gateway application is " + app.status + describe(app));
    }
    if (auth) {
      conditions.set(
          AUTH_DISABLED, false, "ApiKeys", "every request needs a key from the key file");
    } else {
      conditions.set(
          AUTH_DISABLED,
          true,
          "AuthNone",
          "gateway.auth.mode is None: anyone who reaches "
              + gateway.url
              + " runs code on this cluster's GPUs");
    }
    containment(spec, gateway.url, conditions);
  }

  private static void containment(GatewaySpec spec, String url, Conditions conditions) {
    switch (spec.inProcessOrDefault()) {
      case Nobody ->
          conditions.set(
              CONTAINMENT_DISABLED,
              false,
              "Nobody",
              "every request runs contained: a fresh process with no credentials, no network and"
                  + " no programs");
      case Trusted ->
          conditions.set(
              CONTAINMENT_DISABLED,
              false,
              "Trusted",
              "requests with a key tagged trusted run in the model replicas' processes; every"
                  + " other request runs contained");
      case Everyone ->
          conditions.set(
              CONTAINMENT_DISABLED,
              true,
              "Everyone",
              "gateway.inProcess is Everyone: every caller of "
                  + url
                  + " runs code in the model replicas' processes, with Ray's access and what the"
                  + " last caller left behind");
    }
  }

  private static String describe(NdifClusterStatus.ServeApplication app) {
    return app.message == null || app.message.isBlank() ? "" : ": " + app.message;
  }
}
