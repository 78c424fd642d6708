package io.ndif.operator.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ndif.operator.testing.LocalCluster.Result;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Prometheus, Jaeger and VictoriaLogs on 127.0.0.1, as {@code hack/local-observability} starts
 * them: once per test JVM, stopped at exit; or those described by the env file named in {@code
 * NDIF_TEST_OBS_ENV} (what {@code hack/local-observability env} prints).
 */
public final class LocalObservability {
  public static final String ENV_FILE_ENV = "NDIF_TEST_OBS_ENV";
  private static final StartedOnce<LocalObservability> SHARED =
      new StartedOnce<>(LocalObservability::startOrConnect);
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path projectDir;
  private final Map<String, String> env;

  private LocalObservability(Path projectDir, Map<String, String> env) {
    this.projectDir = projectDir;
    this.env = env;
  }

  public static LocalObservability shared() {
    return SHARED.get();
  }

  /** What the operator is given: OTEL_EXPORTER_OTLP_ENDPOINT, LOKI_URL and LOG_FORMAT. */
  public Map<String, String> operatorEnv() {
    return Map.of(
        "OTEL_EXPORTER_OTLP_ENDPOINT", env.get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        "LOKI_URL", env.get("LOKI_URL"),
        "LOG_FORMAT", env.get("LOG_FORMAT"));
  }

  public String prometheusUrl() {
    return env.get("PROMETHEUS_URL");
  }

  /** Has Prometheus scrape {@code hostPort}/metrics as job {@code job} (file discovery). */
  public void scrape(String job, String hostPort) {
    var result =
        LocalCluster.exec(
            List.of("hack/local-observability", "target", job, hostPort),
            stateEnv(),
            projectDir,
            30);
    if (result.exitCode() != 0) {
      throw new IllegalStateException("cannot add a scrape target: " + result.output());
    }
  }

  /** An instant PromQL query: the result vector (empty when nothing matches). */
  public List<JsonNode> query(String promql) throws IOException, InterruptedException {
    JsonNode body = get(prometheusUrl() + "/api/v1/query?query=" + encode(promql));
    if (!"success".equals(body.path("status").asText())) {
      throw new IllegalStateException(promql + ": " + body);
    }
    List<JsonNode> series = new ArrayList<>();
    body.path("data").path("result").forEach(series::add);
    return series;
  }

  /** Prometheus's rules and alerts as its API lists them. */
  public JsonNode rules() throws IOException, InterruptedException {
    return get(prometheusUrl() + "/api/v1/rules").path("data");
  }

  /** Jaeger's query API: the traces of {@code service} (newest first, at most {@code limit}). */
  public JsonNode traces(String service, int limit) throws IOException, InterruptedException {
    return get(env.get("JAEGER_URL")
            + "/api/traces?service="
            + encode(service)
            + "&limit="
            + limit
            + "&lookback=1h")
        .path("data");
  }

  /** VictoriaLogs' LogsQL query API: every matching log entry, one JSON object each. */
  public List<JsonNode> logs(String logsql) throws IOException, InterruptedException {
    var response =
        HTTP.send(
            HttpRequest.newBuilder(
                    URI.create(
                        env.get("VICTORIALOGS_URL")
                            + "/select/logsql/query?query="
                            + encode(logsql)))
                .timeout(Duration.ofSeconds(10))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IllegalStateException(
          logsql + ": " + response.statusCode() + " " + response.body());
    }
    List<JsonNode> entries = new ArrayList<>();
    for (String line : response.body().split("\n")) {
      if (!line.isBlank()) {
        entries.add(JSON.readTree(line));
      }
    }
    return entries;
  }

  /** promtool from the same build as Prometheus. */
  public Result promtool(String... args) {
    List<String> command = new ArrayList<>();
    command.add(env.get("NDIF_OBS_BIN") + "/promtool");
    command.addAll(List.of(args));
    return LocalCluster.exec(command, Map.of(), projectDir, 120);
  }

  private JsonNode get(String url) throws IOException, InterruptedException {
    var response =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() != 200) {
      throw new IllegalStateException(url + ": " + response.statusCode() + " " + response.body());
    }
    return JSON.readTree(response.body());
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }

  private Map<String, String> stateEnv() {
    String targets = env.get("NDIF_OBS_TARGETS");
    return Map.of("NDIF_OBS_DIR", Path.of(targets).getParent().toString());
  }

  private static LocalObservability startOrConnect() {
    Path projectDir = Path.of(System.getProperty("ndif.projectDir", ".")).toAbsolutePath();
    String external = System.getenv(ENV_FILE_ENV);
    if (external != null && !external.isBlank()) {
      return new LocalObservability(projectDir, EnvFile.read(Path.of(external)));
    }
    Path state = projectDir.resolve("target/it-local-observability");
    Map<String, String> env = Map.of("NDIF_OBS_DIR", state.toString());
    List<String> down = List.of("hack/local-observability", "down");
    Result up;
    try {
      // The first call may build the backends from the Go module proxy.
      up = LocalCluster.exec(List.of("hack/local-observability", "up"), env, projectDir, 2400);
    } catch (IllegalStateException timedOut) {
      LocalCluster.exec(down, env, projectDir, 60);
      throw timedOut;
    }
    if (up.exitCode() != 0) {
      LocalCluster.exec(down, env, projectDir, 60);
      throw new IllegalStateException("hack/local-observability up failed:\n" + up.output());
    }
    Runtime.getRuntime()
        .addShutdownHook(new Thread(() -> LocalCluster.exec(down, env, projectDir, 60)));
    return new LocalObservability(projectDir, EnvFile.read(state.resolve("env")));
  }
}
