package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.ndif.operator.NdifOperator;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.OperatorCrds;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Spans reach an OTLP/HTTP receiver on loopback when OTEL_EXPORTER_OTLP_ENDPOINT is set. */
class TracesIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();

  @Test
  void reconcileSpansAreExportedOverOtlp() throws Exception {
    var received = new ByteArrayOutputStream();
    HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    receiver.createContext(
        "/v1/traces",
        exchange -> {
          try (exchange) {
            synchronized (received) {
              received.write(exchange.getRequestBody().readAllBytes());
            }
            exchange.sendResponseHeaders(200, -1);
          }
        });
    receiver.start();
    OperatorCrds.install(cluster.client(), cluster.cluster().projectDir());
    var tracing =
        Tracing.fromEnvironment(
            Map.of(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "http://127.0.0.1:" + receiver.getAddress().getPort(),
                "SERVICE_NAME",
                "ndif-operator-traces-it"));
    var operator =
        NdifOperator.start(
            cluster.client(), new OperatorSettings(Set.of(cluster.namespace()), 2), tracing);
    try {
      cluster.createExternalCluster("traced", "http://127.0.0.1:9", 1);
      // OTLP is protobuf; its strings (span names, attribute values) appear verbatim in the bytes.
      await()
          .atMost(Duration.ofSeconds(60))
          .untilAsserted(
              () -> {
                String body;
                synchronized (received) {
                  body = received.toString(StandardCharsets.ISO_8859_1);
                }
                assertThat(body)
                    .contains(
                        "ndif-operator-traces-it",
                        "reconcile ndifcluster",
                        "traced",
                        "status.patch");
              });
    } finally {
      operator.close();
      receiver.stop(0);
    }
  }
}
