package io.ndif.operator.observability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.LocalObservability;
import io.ndif.operator.testing.OperatorCrds;
import io.ndif.operator.testing.PackagedOperator;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The packaged operator with its ordinary settings against real backends: Prometheus scrapes
 * /metrics and answers PromQL (every query of the shipped Grafana dashboard among them), Jaeger
 * holds the reconcile traces, and VictoriaLogs answers for the JSON log lines of one reconcile.
 */
class ObservabilityBackendsIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration SETTLE = Duration.ofSeconds(90);
  private static LocalObservability backends;
  private static FakeRayDashboard dashboard;
  private static PackagedOperator operator;
  private static String service;

  @BeforeAll
  static void start() throws Exception {
    backends = LocalObservability.shared();
    OperatorCrds.install(cluster.client(), cluster.cluster().projectDir());
    dashboard = new FakeRayDashboard();
    service = "ndif-operator-" + cluster.namespace();
    operator =
        new PackagedOperator(cluster.cluster(), cluster.namespace())
            .withEnv(backends.operatorEnv())
            .withEnv(Map.of("SERVICE_NAME", service));
    operator.start();
    backends.scrape("ndif-operator", operator.metricsAddress());
    cluster.createExternalCluster("observed", dashboard.url(), 2);
    cluster.createDeployment("small", "observed", "model: {repoId: org/small, sizeBytes: 10Gi}");
    cluster.createDeployment(
        "waiting", "observed", "model: {repoId: org/huge, sizeBytes: 600Gi}\nreplicas: 3");
  }

  @AfterAll
  static void stop() throws Exception {
    if (operator != null) {
      operator.close();
    }
    if (dashboard != null) {
      dashboard.close();
    }
  }

  @Test
  void prometheusScrapesTheFleetGaugesWithTheValuesOfTheObjects() {
    String ns = cluster.namespace();
    await()
        .atMost(SETTLE)
        .untilAsserted(
            () -> {
              var cluster = ObservabilityBackendsIT.cluster.ndifCluster("observed").get();
              assertThat(cluster.getStatus()).isNotNull();
              var pool = cluster.getStatus().pools.get(0);
              assertThat(value("up{job=\"ndif-operator\"}")).isEqualTo(1.0);
              String selector = "{namespace=\"" + ns + "\",cluster=\"observed\",pool=\"a100\"}";
              assertThat(value("ndif_pool_gpus_ready" + selector)).isEqualTo(16.0);
              assertThat(value("ndif_pool_gpus_ready" + selector))
                  .isEqualTo(pool.gpus.doubleValue());
              assertThat(value("ndif_pool_gpus_allocated" + selector))
                  .isEqualTo(pool.allocatedGpus)
                  .isGreaterThan(0.0);
              assertThat(
                      value(
                          "ndif_cluster_gpus_pending{namespace=\""
                              + ns
                              + "\",cluster=\"observed\"}"))
                  .isEqualTo(cluster.getStatus().totals.pendingGpus)
                  .isGreaterThan(0.0);
              assertThat(
                      value(
                          "ndif_cluster_dashboard_reachable{namespace=\""
                              + ns
                              + "\",cluster=\"observed\"}"))
                  .isEqualTo(1.0);
              assertThat(value("ndif_operator_leader{job=\"ndif-operator\"}")).isEqualTo(1.0);
              assertThat(value("ndif_deployments_pending_longest_seconds")).isGreaterThan(0.0);
            });
  }

  @Test
  void everyQueryOfTheGrafanaDashboardReturnsSeries() throws Exception {
    var queries = dashboardQueries();
    assertThat(queries).hasSizeGreaterThanOrEqualTo(10);
    await()
        .atMost(SETTLE)
        .untilAsserted(
            () -> {
              List<String> empty = new ArrayList<>();
              for (String query : queries) {
                if (backends.query(query).isEmpty()) {
                  empty.add(query);
                }
              }
              assertThat(empty).as("dashboard queries with no series").isEmpty();
            });
  }

  @Test
  void jaegerHoldsReconcileTracesWithTheirChildSpans() {
    await()
        .atMost(SETTLE)
        .untilAsserted(
            () -> {
              var spans = spans();
              Map<String, String> names = new java.util.HashMap<>();
              spans.forEach(span -> names.put(span.id(), span.name()));
              Set<String> roots = new HashSet<>();
              boolean childOfAReconcile = false;
              for (Span span : spans) {
                if (span.parentId() == null) {
                  roots.add(span.name());
                } else if (names.getOrDefault(span.parentId(), "").startsWith("reconcile ")) {
                  childOfAReconcile = true;
                }
              }
              assertThat(roots).contains("reconcile ndifcluster", "reconcile ndifdeployment");
              assertThat(childOfAReconcile).as("a span below a reconcile span").isTrue();
            });
  }

  @Test
  void victoriaLogsAnswersForTheLogLinesOfOneReconcileByItsId() {
    await()
        .atMost(SETTLE)
        .untilAsserted(
            () -> {
              // One reconcile of the cluster that logged, then the same reconcile in Jaeger: its
              // span id is its reconcileId.
              var clusterLines = backends.logs("resource:=\"NdifCluster/observed\"");
              assertThat(clusterLines).as("log lines of the cluster's reconciles").isNotEmpty();
              String reconcileId = clusterLines.get(0).path("reconcileId").asText();
              assertThat(spans())
                  .anyMatch(
                      s -> s.name().equals("reconcile ndifcluster") && s.id().equals(reconcileId));
              var lines = backends.logs("reconcileId:=\"" + reconcileId + "\"");
              assertThat(lines).as("log lines of reconcile " + reconcileId).isNotEmpty();
              for (JsonNode line : lines) {
                assertThat(line.path("reconcileId").asText()).isEqualTo(reconcileId);
                assertThat(line.path("namespace").asText()).isEqualTo(cluster.namespace());
                assertThat(line.path("resource").asText()).isEqualTo("NdifCluster/observed");
                assertThat(line.path("app").asText()).isEqualTo(service);
                // The JSON line's message is VictoriaLogs' message field, not a placeholder.
                assertThat(line.path("_msg").asText())
                    .isNotBlank()
                    .doesNotContain("missing _msg field");
              }
            });
  }

  @Test
  void theAlertRulesPassTheirUnitTestsAndEvaluateOnTheLivePrometheus() {
    var unit =
        backends.promtool(
            "test", "rules", "src/test/resources/prometheus/ndif-operator.rules.test.yaml");
    assertThat(unit.exitCode()).as(unit.output()).isZero();
    var check = backends.promtool("check", "rules", "deploy/prometheus/ndif-operator.rules.yaml");
    assertThat(check.exitCode()).as(check.output()).isZero();
    await()
        .atMost(SETTLE)
        .untilAsserted(
            () -> {
              Map<String, JsonNode> alerts = new java.util.TreeMap<>();
              backends
                  .rules()
                  .path("groups")
                  .forEach(
                      g -> g.path("rules").forEach(r -> alerts.put(r.path("name").asText(), r)));
              assertThat(alerts)
                  .containsOnlyKeys(
                      "NdifOperatorDown",
                      "NdifOperatorNotLeading",
                      "NdifReconcileErrors",
                      "NdifDeploymentPendingTooLong",
                      "NdifDashboardUnreachable",
                      "NdifGpusAllocatedAboveReady");
              for (var alert : alerts.values()) {
                String name = alert.path("name").asText();
                assertThat(alert.path("health").asText()).as(name + ": " + alert).isEqualTo("ok");
                assertThat(alert.path("lastEvaluation").asText()).as(name).doesNotStartWith("0001");
                // A healthy operator with a reachable dashboard fires none of them yet.
                assertThat(alert.path("state").asText()).as(name).isEqualTo("inactive");
                backends.query(alert.path("query").asText());
              }
              // Every metric the rules read is one the operator exports (a misspelt name would
              // leave its alert silent for ever).
              for (String metric :
                  List.of(
                      "up",
                      "ndif_operator_leader",
                      "ndif_deployments_pending_longest_seconds",
                      "ndif_cluster_dashboard_reachable",
                      "ndif_pool_gpus_allocated",
                      "ndif_pool_gpus_ready")) {
                assertThat(backends.query("count({__name__=\"" + metric + "\"})"))
                    .as(metric)
                    .isNotEmpty();
              }
              // JOSDK counts failures only once one happens; its success counter of the same
              // family shows the name and the controller label the error alert relies on.
              var successes =
                  backends.query("operator_sdk_controllers_execution_reconcile_success_total");
              assertThat(successes)
                  .extracting(s -> s.path("metric").path("controller").asText())
                  .contains("ndifcluster", "ndifdeployment");
            });
  }

  /** A span as Jaeger's query API returns it; parentId null for a trace's root. */
  private record Span(String name, String id, String parentId) {}

  private static List<Span> spans() throws Exception {
    List<Span> spans = new ArrayList<>();
    for (JsonNode trace : backends.traces(service, 500)) {
      for (JsonNode span : trace.path("spans")) {
        var references = span.path("references");
        spans.add(
            new Span(
                span.path("operationName").asText(),
                span.path("spanID").asText(),
                references.isEmpty() ? null : references.get(0).path("spanID").asText()));
      }
    }
    return spans;
  }

  private static double value(String promql) throws Exception {
    var series = backends.query(promql);
    assertThat(series).as(promql).hasSize(1);
    return series.get(0).path("value").get(1).asDouble();
  }

  /** Every PromQL expression of the shipped dashboard, its namespace variable set to ours. */
  private static List<String> dashboardQueries() throws Exception {
    JsonNode dashboard =
        JSON.readTree(
            Files.readString(
                cluster
                    .cluster()
                    .projectDir()
                    .resolve("helm/ndif-operator/dashboards/ndif-operator.json")));
    List<String> queries = new ArrayList<>();
    dashboard
        .path("panels")
        .forEach(p -> p.path("targets").forEach(t -> queries.add(t.path("expr").asText())));
    dashboard
        .path("templating")
        .path("list")
        .forEach(
            v -> {
              String query = v.path("query").asText();
              if ("query".equals(v.path("type").asText())) {
                // label_values(metric, label) is Grafana's; the series behind it is the metric.
                queries.add(query.replaceAll("^label_values\\((.*),\\s*\\w+\\)$", "$1"));
              }
            });
    return queries.stream()
        .filter(q -> !q.isBlank())
        .map(q -> q.replace("$namespace", cluster.namespace()))
        .toList();
  }
}
