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
  void aDashboardThatWantsATokenSaysSo() {
    status.set(401);
    body.set("Unauthorized");
    assertThatThrownBy(() -> dashboard.applications(url))
        .hasMessageContaining("answered 401: Unauthorized")
        .hasMessageContaining("RAY_AUTH_MODE=disabled");
  }

  @Test
  void otherRefusalsCarryNoTokenHint() {
    status.set(500);
    body.set("boom");
    assertThatThrownBy(() -> dashboard.applications(url))
        .hasMessageContaining("answered 500: boom")
        .hasMessageNotContaining("RAY_AUTH_MODE");
  }
}
