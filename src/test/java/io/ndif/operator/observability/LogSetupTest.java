package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifCluster;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogSetupTest {
  private final PrintStream stdout = System.out;

  @AfterEach
  void restore() {
    System.setOut(stdout);
    LogSetup.configure(Map.of());
  }

  @Test
  void jsonLogsAreOneObjectPerLineWithTheReconcileFieldsAndArePushedToLoki() throws Exception {
    List<String> pushes = new ArrayList<>();
    List<String> queries = new ArrayList<>();
    HttpServer loki = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    loki.createContext(
        "/loki/api/v1/push",
        exchange -> {
          try (exchange) {
            synchronized (pushes) {
              queries.add(exchange.getRequestURI().getQuery());
              pushes.add(
                  new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8));
            }
            exchange.sendResponseHeaders(204, -1);
          }
        });
    loki.start();
    var captured = new ByteArrayOutputStream();
    try {
      System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
      LogSetup.configure(
          Map.of(
              "LOG_FORMAT", "json",
              "LOKI_URL",
                  "http://127.0.0.1:" + loki.getAddress().getPort() + "/?_msg_field=message",
              "SERVICE_NAME", "ndif-operator-test"));
      var cluster = new NdifCluster();
      cluster.setMetadata(new ObjectMetaBuilder().withName("fleet").withNamespace("ns").build());
      Tracing.noop()
          .reconcile(
              "ndifcluster",
              cluster,
              () -> {
                LoggerFactory.getLogger("io.ndif.operator.test").info("reconciled {}", "fleet");
                return null;
              });

      await()
          .atMost(Duration.ofSeconds(20))
          .untilAsserted(
              () -> {
                synchronized (pushes) {
                  assertThat(String.join("\n", pushes))
                      .contains("reconciled fleet", "ndif-operator-test");
                }
              });
      JsonNode push;
      synchronized (pushes) {
        push = Serialization.jsonMapper().readTree(pushes.get(0));
        assertThat(queries).first().isEqualTo("_msg_field=message");
      }
      var stream = push.path("streams").path(0);
      assertThat(stream.path("stream").path("app").asText()).isEqualTo("ndif-operator-test");
      assertThat(stream.path("stream").path("level").asText()).isEqualTo("INFO");
    } finally {
      System.setOut(stdout);
      loki.stop(0);
    }
    String line =
        captured
            .toString(StandardCharsets.UTF_8)
            .lines()
            .filter(l -> l.contains("reconciled fleet"))
            .findFirst()
            .orElseThrow();
    JsonNode json = Serialization.jsonMapper().readTree(line);
    assertThat(json.path("message").asText()).isEqualTo("reconciled fleet");
    assertThat(json.path("level").asText()).isEqualTo("INFO");
    assertThat(json.path("resource").asText()).isEqualTo("NdifCluster/fleet");
    assertThat(json.path("namespace").asText()).isEqualTo("ns");
    assertThat(json.path("reconcileId").asText()).hasSize(16);
    assertThat(json.has("LOKI_URL")).as("settings are not log fields: " + line).isFalse();
  }
}
