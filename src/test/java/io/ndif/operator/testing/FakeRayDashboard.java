package io.ndif.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.ray.ServeConfigs;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A Ray dashboard that implements the two Serve calls with Serve's JSON shapes (GET and PUT {@code
 * /api/serve/applications/}), on 127.0.0.1. Applications become RUNNING with one RUNNING replica
 * per {@code num_replicas}; a test can fail an application or forget them all (a head restart).
 */
public class FakeRayDashboard implements AutoCloseable {
  private final HttpServer server;
  private final AtomicInteger puts = new AtomicInteger();
  private final Map<String, ObjectNode> applications = new LinkedHashMap<>();
  private volatile JsonNode lastConfig;
  private volatile List<String> nodeIps = List.of("10.244.0.10");
  private volatile boolean silent;
  private volatile String token;

  public FakeRayDashboard() throws IOException {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    // A thread per request: a silenced dashboard holds each caller, as a hung one does.
    server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool());
    server.createContext("/api/serve/applications/", this::handle);
    server.start();
  }

  public String url() {
    return "http://127.0.0.1:" + server.getAddress().getPort();
  }

  public int puts() {
    return puts.get();
  }

  public JsonNode lastConfig() {
    return lastConfig;
  }

  /** How many applications of NdifDeployments the last config holds (a gateway's is not one). */
  public long deploymentApplications() {
    var config = lastConfig;
    if (config == null) {
      return 0;
    }
    long count = 0;
    for (var application : config.path("applications")) {
      if (application.path("args").has(ServeConfigs.DEPLOYMENT_ARG)) {
        count++;
      }
    }
    return count;
  }

  public void nodeIps(List<String> ips) {
    nodeIps = List.copyOf(ips);
  }

  /**
   * Answers as Ray does with token authentication on: 401 without {@code X-Ray-Authorization:
   * Bearer <token>}, 403 with another token.
   */
  public void requireToken(String token) {
    this.token = token;
  }

  /** Stops answering (requests hang, then the connection closes) until {@link #answer()}. */
  public void silence() {
    silent = true;
  }

  public void answer() {
    silent = false;
  }

  public synchronized void forgetApplications() {
    applications.clear();
  }

  public synchronized void failApplication(String name, String message) {
    var app = applications.get(name);
    app.put("status", "DEPLOY_FAILED");
    app.put("message", message);
    ((ObjectNode) app.get("deployments").get("ModelDeployment"))
        .set("replicas", Serialization.jsonMapper().createArrayNode());
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange) {
      for (int i = 0; silent && i < 300; i++) {
        try {
          Thread.sleep(100);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
      if (silent) {
        return; // closed with no answer
      }
      String wanted = token;
      if (wanted != null) {
        String sent = exchange.getRequestHeaders().getFirst("X-Ray-Authorization");
        if (sent == null) {
          respond(exchange, 401, "Unauthorized: Missing authentication token");
          return;
        }
        if (!sent.equals("Bearer " + wanted)) {
          respond(exchange, 403, "Forbidden: Invalid authentication token");
          return;
        }
      }
      switch (exchange.getRequestMethod()) {
        case "GET" -> respond(exchange, 200, status());
        case "PUT" -> {
          JsonNode config = Serialization.jsonMapper().readTree(exchange.getRequestBody());
          apply(config);
          puts.incrementAndGet();
          respond(exchange, 200, "");
        }
        default -> respond(exchange, 405, "method not allowed");
      }
    }
  }

  private synchronized String status() {
    ObjectNode root = Serialization.jsonMapper().createObjectNode();
    root.put("deploy_mode", "MULTI_APP");
    root.putObject("controller_info");
    root.putObject("proxies");
    ObjectNode apps = root.putObject("applications");
    applications.forEach(apps::set);
    return root.toString();
  }

  private synchronized void apply(JsonNode config) {
    lastConfig = config;
    Map<String, ObjectNode> next = new LinkedHashMap<>();
    for (JsonNode app : config.path("applications")) {
      String name = app.path("name").asText("default");
      JsonNode deployment = app.path("deployments").path(0);
      int replicas =
          deployment.has("num_replicas")
              ? deployment.path("num_replicas").asInt()
              : deployment.path("autoscaling_config").path("min_replicas").asInt(1);
      ObjectNode previous = applications.get(name);
      List<JsonNode> kept = new ArrayList<>();
      if (previous != null) {
        previous.path("deployments").path("ModelDeployment").path("replicas").forEach(kept::add);
      }
      ObjectNode status = Serialization.jsonMapper().createObjectNode();
      status.put("name", name);
      status.put("status", "RUNNING");
      status.put("message", "");
      status.put("route_prefix", app.path("route_prefix").asText());
      status.put("docs_path", (String) null);
      status.set("deployed_app_config", app);
      ObjectNode dep = status.putObject("deployments").putObject("ModelDeployment");
      dep.put("name", "ModelDeployment");
      dep.put("status", "HEALTHY");
      dep.put("status_trigger", "CONFIG_UPDATE_COMPLETED");
      dep.put("message", "");
      dep.put("target_num_replicas", replicas);
      ArrayNode list = dep.putArray("replicas");
      for (int i = 0; i < replicas; i++) {
        if (i < kept.size()) {
          list.add(kept.get(i));
          continue;
        }
        ObjectNode replica = list.addObject();
        replica.put("replica_id", UUID.randomUUID().toString().substring(0, 8));
        replica.put("state", "RUNNING");
        replica.put("node_id", "node-" + i);
        replica.put("node_ip", nodeIps.get(i % nodeIps.size()));
        replica.put("actor_name", "SERVE_REPLICA::" + name + "#ModelDeployment#" + i);
        replica.put("pid", 1000 + i);
        replica.put("start_time_s", 1.7e9);
      }
      next.put(name, status);
    }
    applications.clear();
    applications.putAll(next);
  }

  private static void respond(HttpExchange exchange, int code, String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().add("Content-Type", "application/json");
    exchange.sendResponseHeaders(code, bytes.length == 0 ? -1 : bytes.length);
    if (bytes.length > 0) {
      exchange.getResponseBody().write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
