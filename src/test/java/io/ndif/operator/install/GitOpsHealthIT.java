package io.ndif.operator.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalCluster;
import io.ndif.operator.testing.LocalClusterExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * What GitOps tools make of the live objects the operator writes: Flux's kstatus (sigs.k8s.io/
 * cli-utils) and Argo CD's health check (deploy/argocd/health.lua in gopher-lua, as Argo CD runs
 * it), both through hack/gitops, read a served deployment and its cluster as Current/Healthy, one
 * waiting for capacity or not yet observed as InProgress/Progressing, one that can never fit as
 * Failed/Degraded.
 */
class GitOpsHealthIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static FakeRayDashboard dashboard;
  private static Path checker;

  @BeforeAll
  static void start() throws Exception {
    Path project = cluster.cluster().projectDir();
    checker = project.resolve("target/gitops-health");
    var build =
        LocalCluster.exec(
            List.of("go", "build", "-o", checker.toString(), "."),
            Map.of("CGO_ENABLED", "0", "GOFLAGS", "-mod=mod"),
            project.resolve("hack/gitops"),
            1200);
    assertThat(build.exitCode()).as(build.output()).isZero();
    dashboard = new FakeRayDashboard();
    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 4, Duration.ZERO));
    cluster.createExternalCluster("fleet", dashboard.url(), 2);
    cluster.createDeployment("served", "fleet", "model: {repoId: org/small, sizeBytes: 1Gi}");
    cluster.createDeployment(
        "waiting", "fleet", "model: {repoId: org/big, sizeBytes: 600Gi}\nreplicas: 3");
    cluster.createDeployment("huge", "fleet", "model: {repoId: org/huge, sizeBytes: 1000Gi}");
  }

  @AfterAll
  static void stop() {
    if (dashboard != null) {
      dashboard.close();
    }
  }

  @Test
  void kstatusAndArgoCdReadTheOperatorsConditions() {
    cluster.awaitReady("served", 1, Duration.ofSeconds(90));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var health = health(live());
              assertThat(health)
                  .containsEntry("ndifcluster/fleet", "Current Healthy")
                  .containsEntry("ndifdeployment/served", "Current Healthy")
                  .containsEntry("ndifdeployment/waiting", "InProgress Progressing")
                  .containsEntry("ndifdeployment/huge", "Failed Degraded");
            });
  }

  @Test
  void aGenerationTheOperatorHasNotObservedIsInProgress() throws Exception {
    cluster.awaitReady("served", 1, Duration.ofSeconds(90));
    var served = (ObjectNode) JSON.readTree(kubectlJson("ndifdeployment", "served"));
    var metadata = (ObjectNode) served.path("metadata");
    metadata.put("generation", metadata.path("generation").asLong() + 1);
    assertThat(health(JSON.writeValueAsString(served)))
        .containsEntry("ndifdeployment/served", "InProgress Progressing");
  }

  private static String live() {
    return kubectlJson("ndifclusters,ndifdeployments", null);
  }

  private static String kubectlJson(String kinds, String name) {
    var args = new java.util.ArrayList<>(List.of("get", kinds));
    if (name != null) {
      args.add(name);
    }
    args.addAll(List.of("-n", cluster.namespace(), "-o", "json"));
    var result = cluster.cluster().run("kubectl", args.toArray(String[]::new));
    assertThat(result.exitCode()).as(result.output()).isZero();
    return result.output();
  }

  /** kind/name to "KSTATUS ARGOCD", from hack/gitops over the given objects. */
  private static Map<String, String> health(String objectsJson) throws Exception {
    Path input = Files.createTempFile("gitops-objects", ".json");
    Files.writeString(input, objectsJson);
    Path project = cluster.cluster().projectDir();
    var result =
        LocalCluster.exec(
            List.of(
                "sh",
                "-c",
                "\"$0\" deploy/argocd/health.lua < \"$1\"",
                checker.toString(),
                input.toString()),
            Map.of(),
            project,
            60);
    Files.deleteIfExists(input);
    assertThat(result.exitCode()).as(result.output()).isZero();
    Map<String, String> health = new HashMap<>();
    var kinds = JSON.readTree(objectsJson);
    var items = kinds.has("items") ? kinds.path("items") : JSON.createArrayNode().add(kinds);
    var lines = result.output().lines().toList();
    assertThat(lines).hasSize(items.size());
    for (int i = 0; i < lines.size(); i++) {
      var item = items.get(i);
      var fields = lines.get(i).split(" ");
      health.put(
          item.path("kind").asText().toLowerCase() + "/" + item.at("/metadata/name").asText(),
          fields[1].substring("kstatus=".length()) + " " + fields[2].substring("argocd=".length()));
    }
    return health;
  }
}
