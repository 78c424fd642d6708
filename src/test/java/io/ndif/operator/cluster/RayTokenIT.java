package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalClusterExtension;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * An adopted cluster whose dashboard wants Ray's token: without one the condition says where to
 * name it; once the NdifCluster names the Secret, the operator reads it and its calls are let in; a
 * token that changes in the Secret is read again when the dashboard refuses the old one.
 */
class RayTokenIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static FakeRayDashboard dashboard;

  @BeforeAll
  static void start() throws Exception {
    dashboard = new FakeRayDashboard();
    dashboard.requireToken("first-token");
    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 2, Duration.ZERO));
  }

  @AfterAll
  static void stop() {
    if (dashboard != null) {
      dashboard.close();
    }
  }

  @Test
  void theTokenIsReadFromTheNamedSecretAndReadAgainWhenRefused() {
    create("locked", "");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(condition("locked", "ServeConfigApplied").getMessage())
                    .contains("answered 401")
                    .contains("spec.external.authTokenSecretRef"));
    assertThat(dashboard.puts()).isZero();

    secret("ray-token", "first-token");
    cluster.client().resources(NdifCluster.class).inNamespace(cluster.namespace()).delete();
    create("unlocked", ", authTokenSecretRef: {name: ray-token, key: token}");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              assertThat(condition("unlocked", "ServeConfigApplied").getReason())
                  .isEqualTo("Applied");
              assertThat(condition("unlocked", "RayTokenAuth").getMessage())
                  .contains("Secret ray-token (token)");
            });
    int puts = dashboard.puts();
    assertThat(puts).isPositive();

    // The cluster's token is rotated: the old one is refused, the Secret is read again.
    secret("ray-token", "second-token");
    dashboard.requireToken("second-token");
    dashboard.forgetApplications();
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(() -> assertThat(dashboard.puts()).isGreaterThan(puts));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(condition("unlocked", "ServeConfigApplied").getReason())
                    .isEqualTo("Applied"));
  }

  private static void create(String name, String tokenRef) {
    String yaml =
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifCluster
        metadata: {name: %s}
        spec:
          external: {dashboardUrl: "%s"%s}
          gateway: {auth: {keysFile: /etc/ndif/api-keys/keys.yaml}}
          pools:
          - {name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 1}
        """
            .formatted(name, dashboard.url(), tokenRef);
    cluster
        .client()
        .resource(Serialization.unmarshal(yaml, NdifCluster.class))
        .inNamespace(cluster.namespace())
        .create();
  }

  private static void secret(String name, String token) {
    cluster
        .client()
        .secrets()
        .inNamespace(cluster.namespace())
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withStringData(Map.of("token", token))
                .build())
        .serverSideApply();
  }

  private static io.fabric8.kubernetes.api.model.Condition condition(String cluster, String type) {
    NdifClusterStatus status = RayTokenIT.cluster.ndifCluster(cluster).get().getStatus();
    assertThat(status).isNotNull();
    return Conditions.find(status.conditions, type).orElseThrow();
  }
}
