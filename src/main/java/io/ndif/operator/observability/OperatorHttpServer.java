package io.ndif.operator.observability;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.javaoperatorsdk.operator.RuntimeInfo;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Serves {@code /metrics} (Prometheus text format) and the probes {@code /healthz/startup}
 * (operator started), {@code /healthz/ready} (started and every informer healthy) and {@code
 * /healthz/live} (the process answers; an API server outage must not restart the operator).
 */
public class OperatorHttpServer implements AutoCloseable {
  private final HttpServer server;

  public OperatorHttpServer(
      String host,
      int port,
      PrometheusMeterRegistry registry,
      RuntimeInfo runtime,
      Runnable beforeScrape)
      throws IOException {
    server = HttpServer.create(new InetSocketAddress(host, port), 0);
    server.createContext(
        "/metrics",
        ex -> {
          beforeScrape.run();
          respond(ex, 200, "text/plain; version=0.0.4", registry.scrape());
        });
    server.createContext("/healthz/startup", ex -> probe(ex, runtime.isStarted(), "not started"));
    server.createContext(
        "/healthz/ready",
        ex ->
            probe(
                ex,
                runtime.isStarted() && runtime.allEventSourcesAreHealthy(),
                runtime.isStarted()
                    ? "cannot watch the API server: " + runtime.unhealthyEventSources().keySet()
                    : "not started"));
    // Alive while it answers: an API server that is away makes the watches unhealthy, and a
    // restart would not bring it back, only turn an outage into a crash loop. Readiness says it.
    server.createContext("/healthz/live", ex -> probe(ex, true, ""));
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private static void probe(HttpExchange exchange, boolean ok, String problem) throws IOException {
    respond(exchange, ok ? 200 : 503, "text/plain", ok ? "ok\n" : problem + "\n");
  }

  private static void respond(HttpExchange exchange, int code, String type, String body)
      throws IOException {
    try (exchange) {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", type);
      exchange.sendResponseHeaders(code, bytes.length);
      exchange.getResponseBody().write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(1);
  }
}
