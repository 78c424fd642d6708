package io.ndif.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The operator as users run it: the packaged jar in a process of its own ({@code -Xmx256m}),
 * against a test cluster, watching one namespace, with its probes on a loopback port.
 */
public final class PackagedOperator implements AutoCloseable {
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final Path projectDir;
  private final Path kubeconfig;
  private final String namespace;
  private final int port;
  private final Path log;
  private final java.util.Map<String, String> extraEnv = new java.util.LinkedHashMap<>();
  private Process process;

  public PackagedOperator(LocalCluster cluster, String namespace) throws IOException {
    this(cluster.projectDir(), cluster.kubeconfig(), namespace);
  }

  public PackagedOperator(Path projectDir, Path kubeconfig, String namespace) throws IOException {
    this.projectDir = projectDir;
    this.kubeconfig = kubeconfig;
    this.namespace = namespace;
    try (var socket = new ServerSocket(0)) {
      this.port = socket.getLocalPort();
    }
    this.log = Files.createTempFile("ndif-operator", ".log");
  }

  /** Adds settings to its environment (the next launch takes them). */
  public PackagedOperator withEnv(java.util.Map<String, String> values) {
    extraEnv.putAll(values);
    return this;
  }

  /** host:port of its /metrics and probes. */
  public String metricsAddress() {
    return "127.0.0.1:" + port;
  }

  /** Starts it and waits until it is ready. */
  public void start() throws IOException {
    launch();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> probe("ready").code() == 200);
  }

  /** Starts it without waiting. */
  public void launch() throws IOException {
    String java = ProcessHandle.current().info().command().orElse("java");
    Path jar = projectDir.resolve("target/ndif-operator.jar");
    assertThat(jar).as("mvn package builds it before the integration tests").exists();
    var builder =
        new ProcessBuilder(java, "-Xmx256m", "-jar", jar.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    var env = builder.environment();
    env.put("KUBECONFIG", kubeconfig.toString());
    env.put("WATCH_NAMESPACES", namespace);
    env.put("METRICS_HOST", "127.0.0.1");
    env.put("PROMETHEUS_PORT", String.valueOf(port));
    env.put("NDIF_MINIMUM_DEPLOYMENT_TIME_SECONDS", "0");
    // Outside the cluster: a managed dashboard through the API server, never a Service's name
    // looked up on the host.
    env.put("DASHBOARD_ACCESS", "proxy");
    env.remove("OTEL_EXPORTER_OTLP_ENDPOINT");
    env.putAll(extraEnv);
    process = builder.start();
  }

  public long pid() {
    return process.pid();
  }

  /** SIGTERM, and wait for the shutdown to finish. */
  public void stop() throws InterruptedException {
    process.destroy();
    process.waitFor();
  }

  /** The Prometheus text of /metrics. */
  public String metrics() throws IOException, InterruptedException {
    return HTTP.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                .timeout(Duration.ofSeconds(5))
                .build(),
            HttpResponse.BodyHandlers.ofString())
        .body();
  }

  /** SIGKILL, and wait for it to be gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly().waitFor();
  }

  public boolean isAlive() {
    return process != null && process.isAlive();
  }

  public record Probe(int code, String body) {}

  /** GET /healthz/{name}; code -1 when nothing answers. */
  public Probe probe(String name) {
    if (!process.isAlive()) {
      throw new IllegalStateException("the operator exited: " + tail());
    }
    try {
      var response =
          HTTP.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/healthz/" + name))
                  .timeout(Duration.ofSeconds(2))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      return new Probe(response.statusCode(), response.body());
    } catch (IOException e) {
      return new Probe(-1, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Probe(-1, "interrupted");
    }
  }

  public String tail() {
    try {
      var lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  @Override
  public void close() {
    if (process != null) {
      process.destroyForcibly();
    }
  }
}
