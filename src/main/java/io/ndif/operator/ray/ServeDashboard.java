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

/** The two calls of Ray's dashboard REST API the operator makes: read and replace Serve apps. */
public class ServeDashboard {
  private static final String PATH = "/api/serve/applications/";
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final io.ndif.operator.observability.FleetMetrics metrics;
  private final io.ndif.operator.observability.Tracing tracing;

  public ServeDashboard(
      io.ndif.operator.observability.FleetMetrics metrics,
      io.ndif.operator.observability.Tracing tracing) {
    this.metrics = metrics;
    this.tracing = tracing;
  }

  /** A failed call, with a message fit for a condition. */
  public static class DashboardException extends Exception {
    public DashboardException(String message) {
      super(message);
    }
  }

  public record Replica(String id, String state, String nodeId, String nodeIp) {}

  public record Application(
      String name, String status, String message, String routePrefix, List<Replica> replicas) {}

  /** GET: every application Ray knows, by name. */
  public Map<String, Application> applications(String baseUrl) throws DashboardException {
    String body = send(baseUrl, HttpRequest.newBuilder(uri(baseUrl)).GET());
    JsonNode root;
    try {
      root = Serialization.jsonMapper().readTree(body);
    } catch (IOException e) {
      throw new DashboardException("the Ray dashboard at " + baseUrl + " answered with no JSON");
    }
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
                      text(app, "message"),
                      text(app, "route_prefix"),
                      replicas));
            });
    return apps;
  }

  /** PUT: replaces the whole multi-application config. */
  public void apply(String baseUrl, Map<String, Object> config) throws DashboardException {
    send(
        baseUrl,
        HttpRequest.newBuilder(uri(baseUrl))
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString(Serialization.asJson(config))));
  }

  private static URI uri(String baseUrl) {
    return URI.create(baseUrl.replaceAll("/+$", "") + PATH);
  }

  private String send(String baseUrl, HttpRequest.Builder request) throws DashboardException {
    long start = System.nanoTime();
    boolean ok = false;
    var built = request.timeout(Duration.ofSeconds(10)).build();
    try {
      String body =
          tracing.child("ray.dashboard " + built.method(), () -> exchange(baseUrl, built));
      ok = true;
      return body;
    } finally {
      metrics.dashboardCall(built.method(), ok, Duration.ofNanos(System.nanoTime() - start));
    }
  }

  private String exchange(String baseUrl, HttpRequest request) throws DashboardException {
    try {
      var response = http.send(request, HttpResponse.BodyHandlers.ofString());
      if (response.statusCode() / 100 != 2) {
        String body = response.body() == null ? "" : response.body().strip();
        throw new DashboardException(
            "the Ray dashboard at "
                + baseUrl
                + " answered "
                + response.statusCode()
                + (body.isEmpty() ? "" : ": " + body.substring(0, Math.min(300, body.length()))));
      }
      return response.body();
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

  private static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? null : value.asText();
  }
}
