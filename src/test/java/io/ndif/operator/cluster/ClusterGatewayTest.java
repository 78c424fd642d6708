package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterSpec;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import java.time.Clock;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ClusterGatewayTest {
  static NdifCluster cluster(String spec) {
    var c = new NdifCluster();
    c.setMetadata(
        new ObjectMetaBuilder().withName("ndif").withNamespace("lab").withGeneration(1L).build());
    c.setSpec(
        Serialization.unmarshal(
            "pools: [{name: a, gpusPerNode: 1, gpuMemory: 1Gi}]\n" + spec, NdifClusterSpec.class));
    return c;
  }

  static NdifClusterStatus withGateway(String state, String message) {
    var status = new NdifClusterStatus();
    status.serveUrl = "http://127.0.0.1:8000";
    status.serve = new NdifClusterStatus.ServeStatus();
    if (state != null) {
      var app = new NdifClusterStatus.ServeApplication();
      app.name = "ndif-gateway";
      app.status = state;
      app.message = message;
      status.serve.applications.add(app);
    }
    return status;
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "RUNNING        | True  | Serving      | NDIF's API is served at http://ndif-serve-svc.lab.svc:8000",
        "DEPLOYING      | False | Deploying    | the gateway application is DEPLOYING",
        "DEPLOY_FAILED  | False | DeployFailed | the gateway application is DEPLOY_FAILED: boom",
        "NAME_TAKEN     | False | NameTaken    | boom",
        "               | False | NotDeployed  | the gateway is not in Ray's Serve config yet",
      })
  void readinessFollowsTheApplication(String state, String ready, String reason, String message) {
    var status =
        withGateway(
            state,
            "boom".equals(message.replaceAll(".*: ", "")) || "NAME_TAKEN".equals(state)
                ? "boom"
                : null);
    var conditions = new Conditions(null, 1L, Clock.systemUTC());
    ClusterGateway.build(cluster(""), status, conditions, true, null);
    var built = conditions.build();
    var condition = Conditions.find(built, ClusterGateway.READY).orElseThrow();
    assertThat(condition.getStatus()).isEqualTo(ready);
    assertThat(condition.getReason()).isEqualTo(reason);
    assertThat(condition.getMessage()).isEqualTo(message);
    assertThat(status.gateway.url).isEqualTo("http://ndif-serve-svc.lab.svc:8000");
    assertThat(status.gateway.ready).isEqualTo("True".equals(ready));
    assertThat(status.gateway.auth).isEqualTo("ApiKeys");
    assertThat(Conditions.find(built, ClusterGateway.AUTH_DISABLED).orElseThrow().getStatus())
        .isEqualTo("False");
  }

  @ParameterizedTest
  @CsvSource({"false, Unknown, WaitingForHead", "true, Unknown, DashboardUnreachable"})
  void aHeadOrDashboardThatCannotAnswerLeavesItUnknown(
      boolean reachable, String ready, String reason) {
    var conditions = new Conditions(null, 1L, Clock.systemUTC());
    ClusterGateway.build(
        cluster(""), withGateway(null, null), conditions, reachable, reachable ? "refused" : null);
    var condition = Conditions.find(conditions.build(), ClusterGateway.READY).orElseThrow();
    assertThat(condition.getStatus()).isEqualTo(ready);
    assertThat(condition.getReason()).isEqualTo(reason);
  }

  @org.junit.jupiter.api.Test
  void anAdoptedClusterWithAuthOffIsFlaggedAndUsesItsServeUrl() {
    var external =
        cluster(
            "external: {dashboardUrl: 'http://127.0.0.1:8265'}\n"
                + "gateway: {auth: {mode: None}}");
    var status = withGateway("RUNNING", null);
    var conditions = new Conditions(null, 1L, Clock.systemUTC());
    ClusterGateway.build(external, status, conditions, true, null);
    assertThat(status.gateway.url).isEqualTo("http://127.0.0.1:8000");
    assertThat(status.gateway.auth).isEqualTo("None");
    var flagged = Conditions.find(conditions.build(), ClusterGateway.AUTH_DISABLED).orElseThrow();
    assertThat(flagged.getStatus()).isEqualTo("True");
    assertThat(flagged.getReason()).isEqualTo("AuthNone");
    assertThat(flagged.getMessage()).contains("anyone who reaches http://127.0.0.1:8000");
    assertThat(ClusterGateway.application(external).get("args"))
        .isEqualTo(
            java.util.Map.of(
                "auth",
                "None",
                "max_request_bytes",
                64L << 20,
                "max_inline_result_bytes",
                16L << 20,
                "result_ttl_seconds",
                600,
                "cluster",
                "lab/ndif"));
  }

  @org.junit.jupiter.api.Test
  void aGatewayTurnedOffLeavesStatusWithoutIt() {
    var status = withGateway("RUNNING", null);
    var conditions = new Conditions(null, 1L, Clock.systemUTC());
    ClusterGateway.build(cluster("gateway: {enabled: false}"), status, conditions, true, null);
    assertThat(status.gateway).isNull();
    assertThat(ClusterGateway.application(cluster("gateway: {enabled: false}"))).isNull();
    assertThat(Conditions.reason(conditions.build(), ClusterGateway.READY)).isEqualTo("Disabled");
  }

  @org.junit.jupiter.api.Test
  void aManagedClusterReadsTheKeysWhereTheSecretIsMounted() {
    var args =
        (java.util.Map<?, ?>)
            ClusterGateway.application(
                    cluster("gateway: {auth: {secretName: lab-keys, secretKey: k.yaml}}"))
                .get("args");
    assertThat(args.get("keys_file")).isEqualTo("/etc/ndif/api-keys/k.yaml");
    var keys = keysVolume(cluster("gateway: {auth: {secretName: lab-keys, secretKey: k.yaml}}"));
    assertThat(keys.getSecret().getSecretName()).isEqualTo("lab-keys");
    assertThat(keys.getSecret().getOptional()).isTrue();
    assertThat(keysVolume(cluster("")).getSecret().getSecretName()).isEqualTo("ndif-api-keys");
    assertThat(keysVolume(cluster("gateway: {auth: {mode: None}}"))).isNull();
  }

  private static io.fabric8.kubernetes.api.model.Volume keysVolume(
      io.ndif.operator.api.NdifCluster cluster) {
    return RayClusterSpecs.additions(cluster).volumes().stream()
        .filter(v -> v.getName().equals(io.ndif.operator.ray.RayPodTemplates.API_KEYS_VOLUME))
        .findFirst()
        .orElse(null);
  }
}
