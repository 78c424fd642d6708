package io.ndif.operator.ray;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The calls of Ray's dashboard REST API the operator makes: read and replace Serve applications,
 * and list the live nodes (state API).
 */
public class ServeDashboard {
  private static final String APPLICATIONS = "/api/serve/applications/";
  // Ray's state API caps a listing at 10000 entries; dead nodes stay listed, so they are filtered.
  private static final String ALIVE_NODES =
      "/api/v0/nodes?limit=10000&filter_keys=state&filter_predicates=%3D&filter_values=ALIVE";
  static final String TOKEN_AUTH_HINT =
      " (Ray's token authentication is on and the operator sent no token: an adopted cluster"
          + " names the Secret that holds it in spec.external.authTokenSecretRef; or start Ray"
          + " with RAY_AUTH_MODE=disabled)";
  static final String WRONG_TOKEN_HINT =
      " (Ray's token authentication refused the operator's token: the Secret holds another"
          + " cluster's token, or the token changed)";
  static final String TOKEN_HEADER = "X-Ray-Authorization";
  // HTTP/1.1: an HTTP/2 upgrade offer on a request with a body is refused by some Python servers.
  private final HttpClient http =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private final io.ndif.operator.observability.FleetMetrics metrics;
  private final io.ndif.operator.observability.Tracing tracing;

  private final io.fabric8.kubernetes.client.KubernetesClient kubernetes;
  private final io.fabric8.kubernetes.client.http.HttpClient proxyClient;

  public ServeDashboard(
      io.ndif.operator.observability.FleetMetrics metrics,
      io.ndif.operator.observability.Tracing tracing) {
    this(metrics, tracing, null);
  }

  /**
   * @param kubernetes when set, URLs on its API server (the service proxy) are called through its
   *     authenticated HTTP client
   */
  public ServeDashboard(
      io.ndif.operator.observability.FleetMetrics metrics,
      io.ndif.operator.observability.Tracing tracing,
      io.fabric8.kubernetes.client.KubernetesClient kubernetes) {
    this.metrics = metrics;
    this.tracing = tracing;
    this.kubernetes = kubernetes;
    this.proxyClient = kubernetes == null ? null : withoutRetries(kubernetes);
  }

  /** The API server's service proxy to a cluster's dashboard (operator outside the cluster). */
  public static String proxyUrl(String masterUrl, String namespace, String service) {
    return masterUrl.replaceAll("/+$", "")
        + "/api/v1/namespaces/"
        + namespace
        + "/services/"
        + service
        + ":"
        + KubeRay.DASHBOARD_PORT
        + "/proxy";
  }

  /** A failed call, with a message fit for a condition. */
  public static class DashboardException extends Exception {
    private final int status;

    public DashboardException(String message) {
      this(message, 0);
    }

    public DashboardException(String message, int status) {
      super(message);
      this.status = status;
    }

    /** Whether Ray's token authentication refused the call (missing or wrong token). */
    public boolean refusedToken() {
      return status == 401 || status == 403;
    }
  }

  public record Replica(String id, String state, String nodeId, String nodeIp) {}

  /**
   * @param deployedConfig the config the application was deployed with through the REST API
   *     (declarative), or null for one deployed from Python ({@code serve.run}, imperative)
   */
  public record Application(
      String name,
      String status,
      String message,
      String routePrefix,
      List<Replica> replicas,
      Map<String, Object> deployedConfig) {}

  /**
   * A live Ray node.
   *
   * @param resources Ray's total resources of the node, e.g. {@code GPU}, {@code ndif_pool_a100}
   */
  public record RayNode(String id, String ip, Map<String, Double> resources) {}

  /** GET: the nodes Ray reports ALIVE. */
  public List<RayNode> aliveNodes(String baseUrl) throws DashboardException {
    return aliveNodes(baseUrl, null);
  }

  /**
   * @param token Ray's token, sent with the call; null when the cluster needs none
   */
  public List<RayNode> aliveNodes(String baseUrl, String token) throws DashboardException {
    JsonNode root = json(baseUrl, send(baseUrl, ALIVE_NODES, "GET", null, token));
    if (!root.path("result").asBoolean(false)) {
      throw new DashboardException(
          "the Ray dashboard at " + baseUrl + " could not list nodes: " + text(root, "msg"));
    }
    List<RayNode> nodes = new ArrayList<>();
    for (JsonNode node : root.path("data").path("result").path("result")) {
      Map<String, Double> resources = new LinkedHashMap<>();
      node.path("resources_total")
          .fields()
          .forEachRemaining(r -> resources.put(r.getKey(), r.getValue().asDouble()));
      nodes.add(new RayNode(text(node, "node_id"), text(node, "node_ip"), resources));
    }
    return nodes;
  }

  /** GET: every application Ray knows, by name. */
  public Map<String, Application> applications(String baseUrl) throws DashboardException {
    return applications(baseUrl, null);
  }

  /**
   * @param token Ray's token, sent with the call; null when the cluster needs none
   */
  public Map<String, Application> applications(String baseUrl, String token)
      throws DashboardException {
    JsonNode root = json(baseUrl, send(baseUrl, APPLICATIONS, "GET", null, token));
    Map<String, Application> apps = new LinkedHashMap<>();
    root.path("applications")
        .fields()
        .forEachRemaining(
            e -> {
              JsonNode app = e.getValue();
              List<Replica> replicas = new ArrayList<>();
              app.path("deployments")
                  .forEach(
                      dep ->
                          dep.path("replicas")
                              .forEach(
                                  r ->
                                      replicas.add(
                                          new Replica(
                                              text(r, "replica_id"),
                                              text(r, "state"),
                                              text(r, "node_id"),
                                              text(r, "node_ip")))));
              apps.put(
                  e.getKey(),
                  new Application(
                      e.getKey(),
                      text(app, "status"),
                      ServeMessages.of(app),
                      text(app, "route_prefix"),
                      replicas,
                      app.path("deployed_app_config").isObject()
                          ? Serialization.jsonMapper()
                              .convertValue(
                                  app.get("deployed_app_config"),
                                  new com.fasterxml.jackson.core.type.TypeReference<
                                      Map<String, Object>>() {})
                          : null));
            });
    return apps;
  }

  /** PUT: replaces the whole multi-application config. */
  public void apply(String baseUrl, Map<String, Object> config) throws DashboardException {
    apply(baseUrl, config, null);
  }

  public void apply(String baseUrl, Map<String, Object> config, String token)
      throws DashboardException {
    send(baseUrl, APPLICATIONS, "PUT", Serialization.asJson(config), token);
  }

  /**
   * The on-demand exchange with a cluster's gateway (Serve's HTTP proxy): the operator's word on
   * each on-demand model in, the gateway's demand (JSON) out.
   *
   * @param gatewayUrl Serve's HTTP proxy, directly or through the API server's service proxy
   */
  public String demand(String gatewayUrl, String operatorToken, Map<String, Object> states)
      throws DashboardException {
    return send(
        gatewayUrl,
        "/operator/demand",
        "POST",
        Serialization.asJson(Map.of("states", states)),
        null,
        Map.of("ndif-operator-token", operatorToken));
  }

  /** The API server's service proxy to port {@code port} of a Service. */
  public static String proxyUrl(String masterUrl, String namespace, String service, int port) {
    return masterUrl.replaceAll("/+$", "")
        + "/api/v1/namespaces/"
        + namespace
        + "/services/"
        + service
        + ":"
        + port
        + "/proxy";
  }

  private static JsonNode json(String baseUrl, String body) throws DashboardException {
    try {
      return Serialization.jsonMapper().readTree(body);
    } catch (IOException e) {
      throw new DashboardException("the Ray dashboard at " + baseUrl + " answered with no JSON");
    }
  }

  private static URI uri(String baseUrl, String path) {
    return URI.create(baseUrl.replaceAll("/+$", "") + path);
  }

  private String send(String baseUrl, String path, String method, String json, String token)
      throws DashboardException {
    return send(baseUrl, path, method, json, token, Map.of());
  }

  private String send(
      String baseUrl,
      String path,
      String method,
      String json,
      String token,
      Map<String, String> headers)
      throws DashboardException {
    long start = System.nanoTime();
    boolean ok = false;
    try {
      String body =
          tracing.child(
              "ray.dashboard " + method,
              () ->
                  viaApiServer(baseUrl)
                      ? throughApiServer(baseUrl, path, method, json, token, headers)
                      : direct(baseUrl, path, method, json, token, headers));
      ok = true;
      return body;
    } finally {
      metrics.dashboardCall(method, ok, Duration.ofNanos(System.nanoTime() - start));
    }
  }

  private boolean viaApiServer(String baseUrl) {
    return kubernetes != null
        && baseUrl.startsWith(kubernetes.getConfiguration().getMasterUrl().replaceAll("/+$", ""));
  }

  private String direct(
      String baseUrl,
      String path,
      String method,
      String json,
      String token,
      Map<String, String> headers)
      throws DashboardException {
    var request = HttpRequest.newBuilder(uri(baseUrl, path)).timeout(Duration.ofSeconds(10));
    if (token != null) {
      request.header(TOKEN_HEADER, "Bearer " + token);
    }
    headers.forEach(request::header);
    if (json == null) {
      request.method(method, HttpRequest.BodyPublishers.noBody());
    } else {
      request
          .header("Content-Type", "application/json")
          .method(method, HttpRequest.BodyPublishers.ofString(json));
    }
    try {
      var response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
      return checked(baseUrl, response.statusCode(), response.body());
    } catch (IOException e) {
      throw new DashboardException(
          "the Ray dashboard at "
              + baseUrl
              + " does not answer: "
              + e.getClass().getSimpleName()
              + (e.getMessage() == null ? "" : " " + e.getMessage()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DashboardException("interrupted calling the Ray dashboard at " + baseUrl);
    }
  }

  /** Through the API server's service proxy, with the operator's own credentials. */
  private String throughApiServer(
      String baseUrl,
      String path,
      String method,
      String json,
      String token,
      Map<String, String> headers)
      throws DashboardException {
    var client = proxyClient;
    var request =
        client.newHttpRequestBuilder().uri(uri(baseUrl, path)).timeout(10, TimeUnit.SECONDS);
    // Not Authorization: the API server takes that header for itself.
    if (token != null) {
      request.header(TOKEN_HEADER, "Bearer " + token);
    }
    headers.forEach(request::header);
    if (json != null) {
      request.method(method, "application/json", json);
    }
    try {
      var response = client.sendAsync(request.build(), String.class).get(15, TimeUnit.SECONDS);
      return checked(baseUrl, response.code(), statusMessage(response.body()));
    } catch (ExecutionException | TimeoutException e) {
      throw new DashboardException(
          "the Ray dashboard behind the API server proxy " + baseUrl + " does not answer: " + e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DashboardException("interrupted calling the Ray dashboard at " + baseUrl);
    }
  }

  /**
   * The Kubernetes client's HTTP client without its retries: it retries a 5xx answer for minutes
   * with backoff, and the proxy answers 503 with the reason whenever the dashboard cannot be
   * reached. The reason belongs in the cluster's conditions at once; the reconcile retries.
   */
  private static io.fabric8.kubernetes.client.http.HttpClient withoutRetries(
      io.fabric8.kubernetes.client.KubernetesClient kubernetes) {
    var once =
        new io.fabric8.kubernetes.client.RequestConfigBuilder(
                kubernetes.getConfiguration().getRequestConfig())
            .withRequestRetryBackoffLimit(0)
            .build();
    return kubernetes.getHttpClient().newBuilder().tag(once).build();
  }

  /** The message of a Kubernetes Status the API server answers for the proxy, else the body. */
  private static String statusMessage(String body) {
    if (body == null || !body.startsWith("{\"kind\":\"Status\"")) {
      return body;
    }
    try {
      JsonNode message = Serialization.jsonMapper().readTree(body).get("message");
      return message == null || message.isNull() ? body : message.asText();
    } catch (IOException notJson) {
      return body;
    }
  }

  private static String checked(String baseUrl, int code, String body) throws DashboardException {
    if (code / 100 != 2) {
      String text = body == null ? "" : body.strip();
      throw new DashboardException(
          "the Ray dashboard at "
              + baseUrl
              + " answered "
              + code
              + (text.isEmpty() ? "" : ": " + text.substring(0, Math.min(300, text.length())))
              + (code == 401 ? TOKEN_AUTH_HINT : code == 403 ? WRONG_TOKEN_HINT : ""),
          code);
    }
    return body;
  }

  private static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? null : value.asText();
  }
}
