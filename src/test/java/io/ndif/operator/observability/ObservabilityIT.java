package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ndif.operator.NdifOperator;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.testing.LocalClusterExtension;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The operator's /metrics and probes, scraped over HTTP on loopback. */
class ObservabilityIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static NdifOperator operator;
  private static final HttpClient http = HttpClient.newHttpClient();
  private static final Pattern SAMPLE =
      Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)\\})?\\s+(\\S+)(\\s+\\d+)?$");

  @BeforeAll
  static void start() {
    operator =
        cluster.startOperator(
            new OperatorSettings(
                Set.of(cluster.namespace()),
                2,
                Duration.ofHours(1),
                "127.0.0.1",
                0,
                null,
                OperatorSettings.DashboardAccess.PROXY));
  }

  @Test
  void probesAnswerOnceStarted() throws Exception {
    for (String probe : new String[] {"startup", "ready", "live"}) {
      var response = get("/healthz/" + probe);
      assertThat(response.statusCode()).as(probe).isEqualTo(200);
    }
  }

  @Test
  void metricsCarryGpusPerPoolAndReconcilesAndTheJvm() throws Exception {
    cluster.createExternalCluster("metered", "http://127.0.0.1:9", 2);
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var samples = parse(get("/metrics").body());
              assertThat(samples)
                  .containsEntry(
                      "ndif_pool_gpus_ready{cluster=\"metered\",namespace=\""
                          + cluster.namespace()
                          + "\",pool=\"a100\"}",
                      16.0);
              assertThat(samples.keySet()).anyMatch(k -> k.startsWith("operator_sdk_"));
              assertThat(samples.keySet()).anyMatch(k -> k.startsWith("jvm_memory_used_bytes"));
            });
  }

  @Test
  void everyMetricTheGrafanaDashboardQueriesIsExposed() throws Exception {
    String dashboard =
        java.nio.file.Files.readString(
            cluster
                .cluster()
                .projectDir()
                .resolve("helm/ndif-operator/dashboards/ndif-operator.json"));
    var queried = new java.util.TreeSet<String>();
    var names = Pattern.compile("\\b(ndif_[a-z_]+|operator_sdk_[a-z_]+)\\b").matcher(dashboard);
    while (names.find()) {
      queried.add(names.group(1));
    }
    assertThat(queried).contains("ndif_pool_gpus_ready", "ndif_deployments");
    // Every series appears once a deployment is served: reconciles, dashboard calls, states.
    try (var dashboardServer = new io.ndif.operator.testing.FakeRayDashboard()) {
      cluster.createExternalCluster("served", dashboardServer.url(), 1);
      cluster.createDeployment("gpt2", "served", "model: {repoId: gpt2, sizeBytes: 1Gi}");
      assertAllExposed(queried);
    }
  }

  @Test
  void aDeletedClusterAndDeploymentLeaveTheMetrics() throws Exception {
    cluster.createExternalCluster("gone", "http://127.0.0.1:9", 1);
    cluster.createDeployment("ghost", "gone", "model: {repoId: gpt2, sizeBytes: 1Gi}");
    String pool =
        "ndif_pool_gpus_ready{cluster=\"gone\",namespace=\""
            + cluster.namespace()
            + "\",pool=\"a100\"}";
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var samples = parse(get("/metrics").body());
              assertThat(samples).containsKey(pool);
              assertThat(countedDeployments(samples)).isEqualTo(existingDeployments());
            });

    cluster.ndifDeployment("ghost").delete();
    cluster.ndifCluster("gone").delete();

    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var samples = parse(get("/metrics").body());
              assertThat(samples).doesNotContainKey(pool);
              assertThat(countedDeployments(samples)).isEqualTo(existingDeployments());
            });
  }

  private static double countedDeployments(Map<String, Double> samples) {
    return samples.entrySet().stream()
        .filter(e -> e.getKey().startsWith("ndif_deployments{"))
        .mapToDouble(Map.Entry::getValue)
        .sum();
  }

  private static double existingDeployments() {
    return cluster
        .client()
        .resources(NdifDeployment.class)
        .inNamespace(cluster.namespace())
        .list()
        .getItems()
        .size();
  }

  private static void assertAllExposed(java.util.Set<String> queried) {
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var exposed = new java.util.HashSet<String>();
              parse(get("/metrics").body())
                  .keySet()
                  .forEach(k -> exposed.add(k.replaceAll("\\{.*", "")));
              assertThat(exposed).containsAll(queried);
            });
  }

  /**
   * Prometheus text format: `name{labels} value [timestamp]` per sample, `#` lines are metadata.
   */
  private static Map<String, Double> parse(String text) {
    Map<String, Double> samples = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      var m = SAMPLE.matcher(line);
      assertThat(m.matches()).as("a valid sample line: %s", line).isTrue();
      String labels = m.group(3) == null ? "" : "{" + m.group(3).replaceAll(",$", "") + "}";
      samples.put(m.group(1) + labels, Double.parseDouble(m.group(4).replace("+Inf", "Infinity")));
    }
    return samples;
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + operator.metricsPort() + path))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
