package io.ndif.operator.install;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.ndif.operator.NdifOperator;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalClusterExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The Helm chart with the real helm, and the operator running with exactly its RBAC. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class HelmChartIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final String CHART = "helm/ndif-operator";
  private static final com.fasterxml.jackson.databind.ObjectMapper YAML =
      new com.fasterxml.jackson.databind.ObjectMapper(
          new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());
  private static String release;

  @BeforeAll
  static void names() {
    release = "ndif-" + cluster.namespace().substring(cluster.namespace().length() - 6);
  }

  @AfterAll
  static void uninstall() {
    cluster.cluster().run("helm", "uninstall", release, "-n", cluster.namespace());
  }

  @Test
  @Order(1)
  void lintsAndRendersManifestsTheApiServerAccepts() throws Exception {
    var lint = cluster.cluster().run("helm", "lint", CHART);
    assertThat(lint.exitCode()).as(lint.output()).isZero();
    var rendered =
        cluster.cluster().run("helm", "template", release, CHART, "-n", cluster.namespace());
    assertThat(rendered.exitCode()).as(rendered.output()).isZero();
    Path manifests = Files.createTempFile("chart", ".yaml");
    Files.writeString(manifests, rendered.output());
    var dryRun =
        cluster
            .cluster()
            .run(
                "kubectl",
                "apply",
                "--dry-run=server",
                "-n",
                cluster.namespace(),
                "-f",
                manifests.toString());
    assertThat(dryRun.exitCode()).as(dryRun.output()).isZero();
  }

  @Test
  @Order(2)
  void thePlainManifestsInDeployAreAcceptedToo() {
    // A server-side dry run cannot place objects in a namespace it only pretends to create.
    cluster.cluster().run("kubectl", "create", "namespace", "ndif-system");
    var dryRun = cluster.cluster().run("kubectl", "apply", "-k", "deploy/", "--dry-run=server");
    assertThat(dryRun.exitCode()).as(dryRun.output()).isZero();
    assertThat(dryRun.output()).contains("deployment.apps/ndif-operator", "ndifclusters.ndif.io");
  }

  @Test
  @Order(2)
  void theRayPodMonitorScrapesTheMetricsPortOfTheOperatorsRayPods() throws Exception {
    var off = cluster.cluster().run("helm", "template", release, CHART);
    assertThat(off.output()).doesNotContain("kind: PodMonitor");
    var monitor =
        renderOnly(
            "templates/podmonitor.yaml",
            "metrics.rayPodMonitor.enabled=true",
            "metrics.rayPodMonitor.namespaces={research}");
    assertThat(monitor.path("kind").asText()).isEqualTo("PodMonitor");
    assertThat(monitor.at("/spec/selector/matchLabels/app.kubernetes.io~1managed-by").asText())
        .isEqualTo("ndif-operator");
    assertThat(monitor.at("/spec/namespaceSelector/matchNames/0").asText()).isEqualTo("research");
    assertThat(monitor.at("/spec/podMetricsEndpoints/0/port").asText())
        .isEqualTo(io.ndif.operator.ray.RayPodTemplates.METRICS_PORT_NAME);
    assertThat(monitor.at("/spec/podTargetLabels").toString()).contains("ndif.io/pool");
  }

  @Test
  @Order(2)
  void theAlertRulesComeAsAPrometheusRuleWithTheServiceMonitor() throws Exception {
    var off = cluster.cluster().run("helm", "template", release, CHART);
    assertThat(off.output()).doesNotContain("kind: PrometheusRule");
    var rule = renderOnly("templates/prometheusrule.yaml", "metrics.serviceMonitor.enabled=true");
    var shipped =
        YAML.readTree(
            cluster
                .cluster()
                .projectDir()
                .resolve("deploy/prometheus/ndif-operator.rules.yaml")
                .toFile());
    assertThat(rule.path("kind").asText()).isEqualTo("PrometheusRule");
    // Helm leaves the alerts' own {{ $labels }} templates alone: the same groups as the file.
    assertThat(rule.path("spec").path("groups")).isEqualTo(shipped.path("groups"));
    var withoutRule =
        cluster
            .cluster()
            .run(
                "helm",
                "template",
                release,
                CHART,
                "--set",
                "metrics.serviceMonitor.enabled=true",
                "--set",
                "metrics.prometheusRule.enabled=false");
    assertThat(withoutRule.output()).contains("kind: ServiceMonitor");
    assertThat(withoutRule.output()).doesNotContain("kind: PrometheusRule");
  }

  /** One template of the chart rendered with the given --set values, as a tree. */
  private static com.fasterxml.jackson.databind.JsonNode renderOnly(String template, String... sets)
      throws Exception {
    var args =
        new java.util.ArrayList<>(List.of("template", release, CHART, "--show-only", template));
    for (String set : sets) {
      args.addAll(List.of("--set", set));
    }
    var rendered = cluster.cluster().run("helm", args.toArray(String[]::new));
    assertThat(rendered.exitCode()).as(rendered.output()).isZero();
    return YAML.readTree(rendered.output());
  }

  @Test
  @Order(2)
  void aTypoInValuesFailsWithAMessage() {
    var typo = cluster.cluster().run("helm", "template", release, CHART, "--set", "replica=3");
    assertThat(typo.exitCode()).isNotZero();
    assertThat(typo.output()).contains("additional properties 'replica' not allowed");
  }

  @Test
  @Order(3)
  void installsAndGrantsOnlyWhatTheOperatorUses() {
    var install =
        cluster
            .cluster()
            .run("helm", "install", release, CHART, "-n", cluster.namespace(), "--wait=false");
    assertThat(install.exitCode()).as(install.output()).isZero();
    String sa = serviceAccount();
    // Ray tokens are read one Secret at a time, by name: no listing or watching Secrets, no writes.
    assertThat(canI(sa, "get", "secrets")).isEqualTo("yes");
    assertThat(canI(sa, "list", "secrets")).isEqualTo("no");
    assertThat(canI(sa, "watch", "secrets")).isEqualTo("no");
    assertThat(canI(sa, "update", "secrets")).isEqualTo("no");
    assertThat(canI(sa, "create", "pods")).isEqualTo("no");
    assertThat(canI(sa, "delete", "nodes")).isEqualTo("no");
    assertThat(canI(sa, "watch", "pods")).isEqualTo("yes");
    assertThat(canI(sa, "patch", "ndifclusters.ndif.io", "--subresource=status")).isEqualTo("yes");
    assertThat(canI(sa, "create", "rayclusters.ray.io")).isEqualTo("yes");
    // The gateway Service of each managed cluster (its replicas' own port).
    assertThat(canI(sa, "watch", "services")).isEqualTo("yes");
    assertThat(canI(sa, "create", "services")).isEqualTo("yes");
    // The service proxy is granted only in proxy access mode.
    assertThat(canI(sa, "get", "services", "--subresource=proxy")).isEqualTo("no");
  }

  @Test
  @Order(4)
  void theOperatorRunsAFullScenarioAsTheChartsServiceAccount() throws Exception {
    Config config = Config.fromKubeconfig(Files.readString(cluster.cluster().kubeconfig()));
    config.setImpersonateUsername(serviceAccount());
    config.setImpersonateGroups(
        "system:serviceaccounts",
        "system:serviceaccounts:" + cluster.namespace(),
        "system:authenticated");
    try (KubernetesClient asServiceAccount =
            new KubernetesClientBuilder().withConfig(config).build();
        FakeRayDashboard dashboard = new FakeRayDashboard()) {
      var operator =
          NdifOperator.start(
              asServiceAccount,
              new OperatorSettings(Set.of(cluster.namespace()), 2, Duration.ZERO));
      try {
        cluster.createExternalCluster("rbac", dashboard.url(), 1);
        cluster.createDeployment(
            "gpt2", "rbac", "model: {repoId: openai-community/gpt2, sizeBytes: 1Gi}");
        cluster.awaitReady("gpt2", 1, Duration.ofSeconds(60));
        var events =
            cluster.client().v1().events().inNamespace(cluster.namespace()).list().getItems();
        assertThat(events).anyMatch(e -> "Admitted".equals(e.getReason()));
      } finally {
        operator.close();
      }
    }
  }

  /** The chart names everything `<release>-ndif-operator`. */
  private static String serviceAccount() {
    return "system:serviceaccount:" + cluster.namespace() + ":" + release + "-ndif-operator";
  }

  private static String canI(String user, String verb, String resource, String... extra) {
    var args =
        new java.util.ArrayList<>(
            java.util.List.of(
                "auth", "can-i", verb, resource, "-n", cluster.namespace(), "--as", user));
    args.addAll(java.util.List.of(extra));
    var lines =
        cluster.cluster().run("kubectl", args.toArray(String[]::new)).output().strip().split("\n");
    return lines[lines.length - 1].strip();
  }
}
