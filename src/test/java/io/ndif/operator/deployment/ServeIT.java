package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalClusterExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Serving through a Ray dashboard: an adopted (external) cluster whose dashboard is a fake. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServeIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static FakeRayDashboard dashboard;

  @BeforeAll
  static void start() throws Exception {
    dashboard = new FakeRayDashboard();
    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 4, Duration.ZERO));
    cluster.createExternalCluster("compose", dashboard.url(), 2);
  }

  @AfterAll
  static void stop() {
    if (dashboard != null) {
      dashboard.close();
    }
  }

  @Test
  @Order(1)
  void admittedDeploymentsBecomeServeApplicationsAndTurnReady() {
    cluster.createDeployment(
        "gpt2",
        "compose",
        "model: {repoId: openai-community/gpt2, revision: main, sizeBytes: 1Gi}\nexecutionTimeoutSeconds: 60");
    cluster.createDeployment(
        "llama",
        "compose",
        "model: {repoId: meta-llama/Llama-3.1-8B, parameters: 8000000000, dtype: float16}\nreplicas: 2");
    cluster.awaitReady("gpt2", 1, Duration.ofSeconds(60));
    cluster.awaitReady("llama", 2, Duration.ofSeconds(60));

    var config = dashboard.lastConfig();
    var apps = new ArrayList<String>();
    config.path("applications").forEach(a -> apps.add(a.path("name").asText()));
    String ns = cluster.namespace();
    assertThat(apps).containsExactly(ns + "_gpt2", ns + "_llama", "ndif-gateway");
    var gpt2 = config.path("applications").path(0);
    assertThat(gpt2.path("route_prefix").asText()).isEqualTo("/" + cluster.namespace() + "/gpt2");
    assertThat(gpt2.path("import_path").asText()).isEqualTo("ndif_serve.app:build");
    assertThat(gpt2.path("args").path("model_key").asText())
        .isEqualTo(
            "nnsight.modeling.transformers.TransformersModel:{\"repo_id\":"
                + " \"openai-community/gpt2\", \"revision\": \"main\", \"task\":"
                + " \"text-generation\"}");
    assertThat(gpt2.path("deployments").path(0).path("max_ongoing_requests").asInt()).isEqualTo(1);
    var gateway = config.path("applications").path(2);
    assertThat(gateway.path("route_prefix").asText()).isEqualTo("/");
    assertThat(gateway.path("import_path").asText()).isEqualTo("ndif_serve.app:build_gateway");
    assertThat(gateway.path("args").path("keys_file").asText())
        .isEqualTo("/etc/ndif/api-keys/keys.yaml");
    assertThat(gpt2.path("args").path("execution_timeout_seconds").asInt()).isEqualTo(60);
    var deployment = gpt2.path("deployments").path(0);
    assertThat(deployment.path("num_replicas").asInt()).isEqualTo(1);
    assertThat(deployment.path("ray_actor_options").path("num_gpus").asDouble()).isEqualTo(0.02);
    assertThat(
            deployment
                .path("ray_actor_options")
                .path("resources")
                .path("ndif_pool_a100")
                .asDouble())
        .isEqualTo(0.02);
    var llama = config.path("applications").path(1);
    assertThat(llama.path("args").path("dtype").asText()).isEqualTo("float16");

    var status = cluster.deployment("llama").getStatus();
    assertThat(status.application.status).isEqualTo("RUNNING");
    assertThat(status.placements)
        .hasSize(2)
        .allMatch(p -> "RUNNING".equals(p.state) && p.replicaId != null);
    assertThat(status.endpoint)
        .isEqualTo(
            dashboard.url().replaceFirst(":\\d+$", "")
                + ":"
                + KubeRay.SERVE_PORT
                + "/"
                + cluster.namespace()
                + "/llama");
    assertThat(status.replicaSummary).isEqualTo("2/2");

    String serveUrl = dashboard.url().replaceFirst(":\\d+$", "") + ":" + KubeRay.SERVE_PORT;
    assertThat(status.ndifHost).isEqualTo(serveUrl);
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var compose = cluster.ndifCluster("compose").get().getStatus();
              assertThat(compose.gateway.url).isEqualTo(serveUrl);
              assertThat(compose.gateway.ready).isTrue();
              assertThat(compose.gateway.auth).isEqualTo("ApiKeys");
              assertThat(Conditions.reason(compose.conditions, "GatewayReady"))
                  .isEqualTo("Serving");
              assertThat(Conditions.isTrue(compose.conditions, "GatewayAuthDisabled")).isFalse();
            });
  }

  @Test
  @Order(2)
  void theConfigIsPutOnlyWhenItChanges() throws InterruptedException {
    int puts = dashboard.puts();
    Thread.sleep(8000);
    assertThat(dashboard.puts()).isEqualTo(puts);

    cluster.editDeployment("llama", d -> d.getSpec().replicas = 3);
    cluster.awaitReady("llama", 3, Duration.ofSeconds(60));
    assertThat(dashboard.puts()).isEqualTo(puts + 1);
    assertThat(cluster.deployment("llama").getStatus().placements).hasSize(3);
  }

  @Test
  @Order(3)
  void applicationsLostByAHeadRestartArePutAgain() {
    int puts = dashboard.puts();
    long lost = System.nanoTime();
    dashboard.forgetApplications();
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(100))
        .until(() -> dashboard.puts() > puts);
    Duration back = Duration.ofNanos(System.nanoTime() - lost);
    // The recovery time of an adopted cluster, as docs/operations.md reports it.
    System.out.println(
        "recovery: adopted cluster's applications put back after " + back.toMillis() + " ms");
    assertThat(back)
        .as("an adopted head's lost config is back within 10 s")
        .isLessThan(Duration.ofSeconds(10));
    cluster.awaitReady("gpt2", 1, Duration.ofSeconds(60));
  }

  @Test
  @Order(4)
  void aFailedApplicationIsDegradedWithRaysMessage() {
    dashboard.failApplication(
        cluster.namespace() + "_gpt2", "ImportError: no module named ndif_serve");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var conditions = cluster.deployment("gpt2").getStatus().conditions;
              assertThat(Conditions.reason(conditions, "Ready")).isEqualTo("DeployFailed");
              assertThat(Conditions.isTrue(conditions, "Degraded")).isTrue();
              assertThat(Conditions.find(conditions, "Degraded").get().getMessage())
                  .contains("ImportError");
            });
  }

  @Test
  @Order(5)
  void deletingADeploymentRemovesItsApplication() {
    cluster.ndifDeployment("gpt2").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              List<String> apps = new ArrayList<>();
              dashboard
                  .lastConfig()
                  .path("applications")
                  .forEach(a -> apps.add(a.path("name").asText()));
              assertThat(apps).containsExactly(cluster.namespace() + "_llama", "ndif-gateway");
            });
  }

  @Test
  @Order(6)
  void twoNamespacesOnOneRayClusterServeDeploymentsOfTheSameName() throws Exception {
    String other = cluster.namespace() + "-b";
    var client = cluster.client();
    client
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(other).endMetadata().build())
        .create();
    try {
      var second = cluster.startOperator(new OperatorSettings(Set.of(other), 2, Duration.ZERO));
      client
          .resource(
              Serialization.unmarshal(
                  """
                  apiVersion: ndif.io/v1alpha1
                  kind: NdifCluster
                  metadata: {name: compose}
                  spec:
                    external: {dashboardUrl: "%s"}
                    gateway: {auth: {keysFile: /etc/ndif/api-keys/keys.yaml}}
                    pools:
                    - {name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 1}
                  """
                      .formatted(dashboard.url()),
                  NdifCluster.class))
          .inNamespace(other)
          .create();
      client
          .resource(
              Serialization.unmarshal(
                  """
                  apiVersion: ndif.io/v1alpha1
                  kind: NdifDeployment
                  metadata: {name: llama}
                  spec:
                    clusterRef: compose
                    model: {repoId: meta-llama/Llama-3.1-8B, parameters: 8000000000}
                  """,
                  NdifDeployment.class))
          .inNamespace(other)
          .create();
      String ours = cluster.namespace() + "_llama";
      String theirs = other + "_llama";
      await()
          .atMost(Duration.ofSeconds(90))
          .untilAsserted(
              () -> {
                assertThat(configNames()).contains(ours, theirs, "ndif-gateway");
                var status =
                    client
                        .resources(NdifDeployment.class)
                        .inNamespace(other)
                        .withName("llama")
                        .get()
                        .getStatus();
                assertThat(status).isNotNull();
                assertThat(Conditions.isTrue(status.conditions, "Ready")).isTrue();
                assertThat(status.application.name).isEqualTo(theirs);
                // One gateway serves a Ray cluster: the first NdifCluster's.
                var otherCluster =
                    client
                        .resources(NdifCluster.class)
                        .inNamespace(other)
                        .withName("compose")
                        .get()
                        .getStatus();
                assertThat(Conditions.reason(otherCluster.conditions, "GatewayReady"))
                    .isEqualTo("NameTaken");
              });
      cluster.awaitReady("llama", 3, Duration.ofSeconds(60));

      // Deleted while its operator is down: the next operator removes the application, whose
      // arguments say it is that namespace's, and keeps the other namespace's.
      second.close();
      client.resources(NdifDeployment.class).inNamespace(other).withName("llama").delete();
      cluster.startOperator(new OperatorSettings(Set.of(other), 2, Duration.ZERO));
      await()
          .atMost(Duration.ofSeconds(90))
          .untilAsserted(() -> assertThat(configNames()).contains(ours).doesNotContain(theirs));
      cluster.awaitReady("llama", 3, Duration.ofSeconds(60));
    } finally {
      client.namespaces().withName(other).delete();
    }
  }

  private static List<String> configNames() {
    List<String> apps = new ArrayList<>();
    dashboard.lastConfig().path("applications").forEach(a -> apps.add(a.path("name").asText()));
    return apps;
  }

  @Test
  @Order(7)
  void aDashboardThatDoesNotAnswerIsAConditionNotACrash() {
    dashboard.close();
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var conditions = cluster.ndifCluster("compose").get().getStatus().conditions;
              assertThat(Conditions.reason(conditions, "ServeConfigApplied"))
                  .isEqualTo("DashboardUnreachable");
              assertThat(Conditions.find(conditions, "ServeConfigApplied").get().getMessage())
                  .contains("does not answer");
            });
    // The last reported state stays: nothing is lost while the dashboard is away.
    assertThat(cluster.deployment("llama").getStatus().placements).hasSize(3);
  }
}
