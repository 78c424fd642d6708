package io.ndif.operator.ray;

import io.javaoperatorsdk.operator.processing.GroupVersionKind;

/** KubeRay's API as the operator uses it. */
public final class KubeRay {
  public static final String GROUP = "ray.io";
  public static final String VERSION = "v1";
  public static final String API_VERSION = GROUP + "/" + VERSION;
  public static final GroupVersionKind RAY_CLUSTER =
      new GroupVersionKind(GROUP, VERSION, "RayCluster");
  public static final GroupVersionKind RAY_SERVICE =
      new GroupVersionKind(GROUP, VERSION, "RayService");

  public static final String LABEL_NODE_TYPE = "ray.io/node-type";
  public static final String LABEL_GROUP = "ray.io/group";
  public static final String LABEL_CLUSTER = "ray.io/cluster";
  public static final String NODE_TYPE_HEAD = "head";
  public static final String NODE_TYPE_WORKER = "worker";
  public static final int DASHBOARD_PORT = 8265;
  public static final int SERVE_PORT = 8000;

  /** On a standalone RayCluster: KubeRay makes {@code <name>-serve-svc} for it. */
  public static final String ENABLE_SERVE_SERVICE = "ray.io/enable-serve-service";

  private KubeRay() {}

  /** Ray Serve's HTTP proxy: port 8000 of the host that serves the dashboard. */
  public static String serveUrlBeside(String dashboardUrl) {
    var uri = java.net.URI.create(dashboardUrl);
    return uri.getScheme() + "://" + uri.getHost() + ":" + SERVE_PORT;
  }

  /** The same URL with another port. */
  public static String withPort(String url, int port) {
    var uri = java.net.URI.create(url);
    return uri.getScheme() + "://" + uri.getHost() + ":" + port;
  }

  public static String headServiceName(String rayClusterName) {
    return rayClusterName + "-head-svc";
  }

  /**
   * The Serve port of KubeRay's {@code <name>-serve-svc}: a standalone RayCluster's with {@link
   * #ENABLE_SERVE_SERVICE}, or a RayService's.
   */
  public static String serveServiceUrl(String name, String namespace) {
    return "http://" + name + "-serve-svc." + namespace + ".svc:" + SERVE_PORT;
  }

  /** The Ray custom resource that pins work to one pool: {@code ndif_pool_<name>}. */
  public static String poolResource(String poolName) {
    return "ndif_pool_" + poolName.replace('-', '_');
  }
}
