package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.ServePolicySpec;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalClusterExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The cluster owner's policy decides which code deployments may run on the cluster's GPUs. */
class ServePolicyIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static FakeRayDashboard dashboard;

  @BeforeAll
  static void start() throws Exception {
    dashboard = new FakeRayDashboard();
    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 2, Duration.ZERO));
    cluster.createExternalCluster("shared", dashboard.url(), 1);
  }

  @AfterAll
  static void stop() {
    if (dashboard != null) {
      dashboard.close();
    }
  }

  @Test
  void aDeploymentOutsideThePolicyIsDegradedAndNeverServedUntilTheOwnerAllowsIt() {
    cluster.createDeployment(
        "plain", "shared", "model: {repoId: openai-community/gpt2, sizeBytes: 1Gi}");
    cluster.createDeployment(
        "custom",
        "shared",
        """
        model: {repoId: openai-community/gpt2, sizeBytes: 1Gi}
        serve: {importPath: "mylab.apps:build", runtimeEnv: {pip: [requests]}}
        """);
    cluster.awaitReady("plain", 1, Duration.ofSeconds(60));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var conditions = cluster.deployment("custom").getStatus().conditions;
              var degraded = Conditions.find(conditions, "Degraded").orElseThrow();
              assertThat(degraded.getStatus()).isEqualTo("True");
              assertThat(degraded.getReason()).isEqualTo("PolicyDenied");
              assertThat(degraded.getMessage())
                  .isEqualTo(
                      "serve.importPath mylab.apps:build is not in the cluster's"
                          + " policy.allowedImportPaths [ndif_serve.app:build]; serve.runtimeEnv"
                          + " is set and the cluster's policy.allowRuntimeEnv is not true");
              assertThat(Conditions.reason(conditions, "Ready")).isEqualTo("PolicyDenied");
            });
    assertThat(appNames()).contains(cluster.namespace() + "_plain");
    assertThat(appNames()).doesNotContain(cluster.namespace() + "_custom");
    var placement =
        cluster.ndifCluster("shared").get().getStatus().deployments.stream()
            .filter(p -> p.name.equals("custom"))
            .findFirst()
            .orElseThrow();
    assertThat(placement.admitted).isFalse();
    assertThat(placement.pool).isNull();

    // The owner allows the lab's builders and runtime environments: it is served.
    cluster
        .ndifCluster("shared")
        .edit(
            c -> {
              var policy = new ServePolicySpec();
              policy.allowedImportPaths = List.of("ndif_serve.app:build", "mylab.apps.*");
              policy.allowRuntimeEnv = true;
              c.getSpec().policy = policy;
              return c;
            });
    cluster.awaitReady("custom", 1, Duration.ofSeconds(60));
    assertThat(appNames()).contains(cluster.namespace() + "_custom");
    assertThat(
            dashboard.lastConfig().path("applications").findValues("import_path").stream()
                .map(n -> n.asText())
                .toList())
        .contains("mylab.apps:build");

    // The owner takes it back: the deployment leaves the Serve config and is Degraded again.
    cluster
        .ndifCluster("shared")
        .edit(
            c -> {
              c.getSpec().policy.allowedImportPaths = List.of("ndif_serve.app:build");
              return c;
            });
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(appNames()).doesNotContain(cluster.namespace() + "_custom");
              assertThat(
                      Conditions.reason(
                          cluster.deployment("custom").getStatus().conditions, "Degraded"))
                  .isEqualTo("PolicyDenied");
            });
    assertThat(appNames()).contains(cluster.namespace() + "_plain");
  }

  private static List<String> appNames() {
    List<String> names = new ArrayList<>();
    dashboard.lastConfig().path("applications").forEach(a -> names.add(a.path("name").asText()));
    return names;
  }
}
