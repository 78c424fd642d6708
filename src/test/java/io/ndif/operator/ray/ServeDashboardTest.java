package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ndif.operator.observability.FleetMetrics;
import io.ndif.operator.observability.Tracing;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ServeDashboardTest {
  private final AtomicReference<Integer> status = new AtomicReference<>(200);
  private final AtomicReference<String> body = new AtomicReference<>("{\"applications\": {}}");
  private final AtomicReference<String> upgrade = new AtomicReference<>();
  private final AtomicReference<String> path = new AtomicReference<>();
  private HttpServer server;
  private String url;
  private final ServeDashboard dashboard =
      new ServeDashboard(new FleetMetrics(new SimpleMeterRegistry()), Tracing.noop());

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        exchange -> {
          upgrade.set(exchange.getRequestHeaders().getFirst("Upgrade"));
          path.set(exchange.getRequestURI().toString());
          byte[] bytes = body.get().getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(status.get(), bytes.length);
          exchange.getResponseBody().write(bytes);
          exchange.close();
        });
    server.start();
    url = "http://127.0.0.1:" + server.getAddress().getPort();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  @Test
  void aFailedDeploymentsCauseIsPartOfTheApplicationsMessage() throws Exception {
    body.set(
        """
        {"applications": {"tiny": {"status": "DEPLOY_FAILED", "route_prefix": "/ns/tiny",
          "message": "Failed to update the deployments ['ModelDeployment'].",
          "deployments": {"ModelDeployment": {"status": "DEPLOY_FAILED",
            "message": "The deployment failed to start 3 times in a row. Error:\\nTraceback\\nModelLoadError: no such model",
            "replicas": [{"replica_id": "r1", "state": "STARTING", "node_id": "n1", "node_ip": "127.0.0.1"}]}}}}}
        """);
    var app = dashboard.applications(url).get("tiny");
    assertThat(app.message())
        .endsWith(
            "ModelDeployment: The deployment failed to start 3 times in a row. Error: … ModelLoadError: no such model");
    assertThat(app.replicas())
        .containsExactly(new ServeDashboard.Replica("r1", "STARTING", "n1", "127.0.0.1"));
    // No HTTP/2 upgrade offer, which Serve's uvicorn refuses on requests with a body.
    assertThat(upgrade.get()).isNull();
  }

  @Test
  void liveNodesAreReadFromRaysStateApi() throws Exception {
    // As Ray 2.60's dashboard answers GET /api/v0/nodes.
    body.set(
        """
        {"result": true, "msg": "", "data": {"result": {"total": 1, "num_after_truncation": 1,
          "result": [{"node_id": "e4dc", "node_ip": "127.0.0.1", "is_head_node": true,
            "state": "ALIVE", "node_name": "127.0.0.1",
            "resources_total": {"CPU": 4.0, "GPU": 1.0, "ndif_pool_local": 1.0,
              "accelerator_type:A100": 1.0}}]}}}
        """);
    assertThat(dashboard.aliveNodes(url))
        .containsExactly(
            new ServeDashboard.RayNode(
                "e4dc",
                "127.0.0.1",
                java.util.Map.of(
                    "CPU", 4.0, "GPU", 1.0, "ndif_pool_local", 1.0, "accelerator_type:A100", 1.0)));
    assertThat(path.get()).startsWith("/api/v0/nodes?").contains("filter_values=ALIVE");
  }

  @Test
  void aStateApiFailureIsAnError() {
    body.set("{\"result\": false, \"msg\": \"GCS unavailable\", \"data\": {}}");
    assertThatThrownBy(() -> dashboard.aliveNodes(url))
        .hasMessageContaining("could not list nodes: GCS unavailable");
  }

  @Test
  void aDashboardThatWantsATokenSaysSo() {
    status.set(401);
    body.set("Unauthorized");
    assertThatThrownBy(() -> dashboard.applications(url))
        .hasMessageContaining("answered 401: Unauthorized")
        .hasMessageContaining("spec.external.authTokenSecretRef")
        .matches(e -> ((ServeDashboard.DashboardException) e).refusedToken());
  }

  @Test
  void otherRefusalsCarryNoTokenHint() {
    status.set(500);
    body.set("boom");
    assertThatThrownBy(() -> dashboard.applications(url))
        .hasMessageContaining("answered 500: boom")
        .hasMessageNotContaining("authTokenSecretRef")
        .matches(e -> !((ServeDashboard.DashboardException) e).refusedToken());
  }
}
