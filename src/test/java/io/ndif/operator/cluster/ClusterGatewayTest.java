package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterSpec;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import java.time.Clock;
import java.util.List;
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
                "lab/ndif",
                "in_process",
                "nobody",
                "drain_grace_seconds",
                300,
                "max_wait_seconds",
                600));
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "                      | False | Nobody   | nobody  | every request runs contained",
        "gateway: {inProcess: Trusted}  | False | Trusted  | trusted | key tagged trusted run in",
        "gateway: {inProcess: Everyone} | True  | Everyone | everyone | every caller of"
            + " http://ndif-serve-svc.lab.svc:8000 runs code in the model replicas' processes",
      })
  void theTrustPolicyIsWrittenForTheGatewayAndEveryoneIsFlagged(
      String spec, String flagged, String reason, String argument, String message) {
    var cluster = cluster(spec == null ? "" : spec);
    var conditions = new Conditions(null, 1L, Clock.systemUTC());
    ClusterGateway.build(cluster, withGateway("RUNNING", null), conditions, true, null);
    var condition =
        Conditions.find(conditions.build(), ClusterGateway.CONTAINMENT_DISABLED).orElseThrow();
    assertThat(condition.getStatus()).isEqualTo(flagged);
    assertThat(condition.getReason()).isEqualTo(reason);
    assertThat(condition.getMessage()).contains(message);
    assertThat(
            ((java.util.Map<?, ?>) ClusterGateway.application(cluster).get("args"))
                .get("in_process"))
        .isEqualTo(argument);
  }

  @org.junit.jupiter.api.Test
  @SuppressWarnings("unchecked")
  void theWarmTiersBudgetAndTheOperatorsTokenGoToTheGatewayAndEveryModel() {
    var cluster = cluster("warmTier: {budget: 2Gi}");
    cluster.getMetadata().setUid("uid-1");
    var args =
        (java.util.Map<String, Object>)
            ClusterGateway.application(cluster, false, "ray-token").get("args");
    assertThat(args.get("warm_budget_bytes")).isEqualTo(2L * 1024 * 1024 * 1024);
    assertThat(args.get("operator_token")).isEqualTo(OnDemandToken.of(cluster, "ray-token"));
    assertThat(args).doesNotContainKey("on_demand");
    var models =
        io.ndif.operator.ray.ServeConfigs.config(
            java.util.List.of(
                new io.ndif.operator.ray.ServeConfigs.Admitted(deployment(), "a100", 1.0)),
            ClusterGateway.application(cluster, false, "ray-token"));
    @SuppressWarnings("unchecked")
    var model =
        (java.util.Map<String, Object>)
            ((java.util.List<java.util.Map<String, Object>>) models.get("applications"))
                .get(0)
                .get("args");
    assertThat(model)
        .containsEntry("warm_budget_bytes", 2L * 1024 * 1024 * 1024)
        .containsEntry("priority", 7)
        .containsEntry("pool", "a100");

    var off =
        (java.util.Map<String, Object>)
            ClusterGateway.application(cluster(""), false, "t").get("args");
    assertThat(off).doesNotContainKeys("warm_budget_bytes", "operator_token");
  }

  private static io.ndif.operator.api.NdifDeployment deployment() {
    var d = new io.ndif.operator.api.NdifDeployment();
    d.setMetadata(
        new io.fabric8.kubernetes.api.model.ObjectMetaBuilder()
            .withName("m")
            .withNamespace("ns")
            .build());
    d.setSpec(
        io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
            "clusterRef: c\npriority: 7\nmodel: {repoId: a/b}",
            io.ndif.operator.api.NdifDeploymentSpec.class));
    return d;
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

  /**
   * The RayCluster spec the operator wants, as JSON; {@code pinned}: the head has the gateway's
   * resource.
   */
  private static com.fasterxml.jackson.databind.JsonNode rayClusterSpec(
      io.ndif.operator.api.NdifCluster cluster, boolean pinned) {
    return io.fabric8.kubernetes.client.utils.Serialization.jsonMapper()
        .valueToTree(
            RayClusterSpecs.desired(
                    cluster,
                    null,
                    java.util.Set.of(),
                    java.util.Map.of(),
                    pinned,
                    RayAuth.Effective.ON)
                .spec());
  }

  private static io.fabric8.kubernetes.api.model.Volume keysVolume(
      io.ndif.operator.api.NdifCluster cluster) {
    return RayClusterSpecs.gatewaySecrets(cluster).volumes().stream()
        .filter(v -> v.getName().equals(io.ndif.operator.ray.RayPodTemplates.API_KEYS_VOLUME))
        .findFirst()
        .orElse(null);
  }

  @org.junit.jupiter.api.Test
  @SuppressWarnings("unchecked")
  void aStoreIsNamedToTheGatewayWithItsPasswordWhereTheGatewayRunsOnly() {
    var cluster =
        cluster(
            "gateway: {store: {address: \"redis.lab.svc:6379\", database: 2, leaseSeconds: 5,"
                + " passwordSecretRef: {name: redis-auth, key: pw}}}");
    var app = ClusterGateway.application(cluster, true, null);
    var store =
        (java.util.Map<String, Object>) ((java.util.Map<?, ?>) app.get("args")).get("store");
    assertThat(store)
        .containsEntry("url", "redis://redis.lab.svc:6379/2")
        .containsEntry("password_file", "/etc/ndif/store/password")
        .containsEntry("prefix", "ndif:lab/ndif")
        .containsEntry("job_ttl_seconds", 3600)
        .containsEntry("lease_seconds", 5);
    // every gateway replica keeps jobs in the store: no broker deployment
    assertThat((java.util.List<java.util.Map<String, Object>>) app.get("deployments"))
        .extracting(d -> d.get("name"))
        .containsExactly("Gateway");
    // A store turns GCS fault tolerance on, and the gateway moves to a worker group of its own.
    var spec = rayClusterSpec(cluster, true);
    assertThat(spec.at("/workerGroupSpecs/0/groupName").asText()).isEqualTo("ndif-gateway");
    assertThat(spec.at("/workerGroupSpecs/0/template/spec/volumes").toString())
        .contains("redis-auth")
        .contains("\"key\":\"pw\",\"path\":\"password\"");
    assertThat(spec.at("/headGroupSpec/template/spec/volumes").toString())
        .doesNotContain("redis-auth");
    assertThat(spec.at("/workerGroupSpecs/1/template/spec/volumes").toString())
        .doesNotContain("redis-auth");
    var onHead =
        rayClusterSpec(
            cluster(
                "gateway: {placement: Head, store: {address: \"redis.lab.svc:6379\","
                    + " passwordSecretRef: {name: redis-auth, key: pw}}}"),
            true);
    assertThat(onHead.at("/headGroupSpec/template/spec/volumes").toString()).contains("redis-auth");
    assertThat(onHead.at("/workerGroupSpecs/0/template/spec/volumes").toString())
        .doesNotContain("redis-auth");
    // without a store: the broker, and no store argument
    var plain = ClusterGateway.application(cluster(""), true, null);
    assertThat(((java.util.Map<?, ?>) plain.get("args")).containsKey("store")).isFalse();
    assertThat((java.util.List<java.util.Map<String, Object>>) plain.get("deployments"))
        .extracting(d -> d.get("name"))
        .containsExactly("Gateway", "JobBroker");
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "                                  | 8001 | http://ndif-gateway.lab.svc:8001",
        "gateway: {directPort: 9100}       | 9100 | http://ndif-gateway.lab.svc:9100",
        "gateway: {directPort: 0}          | 0    | ",
        "gateway: {enabled: false}         | 0    | ",
        "external: {dashboardUrl: 'http://127.0.0.1:8265'}  | 0 | ",
        "external: {dashboardUrl: 'http://127.0.0.1:8265'}\\ngateway: {directPort: 9100}"
            + " | 9100 | http://127.0.0.1:9100",
      })
  void theGatewayReplicasOwnPortIsServedOnTheHeadAndNamedInStatus(
      String spec, int port, String directUrl) {
    var cluster = cluster(spec == null ? "" : spec.replace("\\n", "\n"));
    boolean adopted = cluster.getSpec().usesExternalCluster();
    var app = ClusterGateway.application(cluster, !adopted, null);
    if (app != null) {
      var args = (java.util.Map<?, ?>) app.get("args");
      assertThat(args.get("direct_port")).isEqualTo(port == 0 ? null : port);
    }
    var status = withGateway("RUNNING", null);
    ClusterGateway.build(cluster, status, new Conditions(null, 1L, Clock.systemUTC()), true, null);
    assertThat(status.gateway == null ? null : status.gateway.directUrl).isEqualTo(directUrl);

    var policy =
        Serialization.jsonMapper().valueToTree(RayNetworkPolicies.build(cluster)).toString();
    assertThat(policy.contains("\"port\":" + port)).isEqualTo(port != 0);
    if (!adopted) {
      var head =
          rayClusterSpec(cluster, true).at("/headGroupSpec/template/spec/containers/0/ports");
      var named =
          java.util.stream.StreamSupport.stream(head.spliterator(), false)
              .filter(p -> "ndif-api".equals(p.path("name").asText()))
              .map(p -> p.path("containerPort").asInt())
              .toList();
      assertThat(named).isEqualTo(port == 0 ? List.of() : List.of(port));
    }
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "                                                          | false",
        "gateway: {placement: Workers}                             | true",
        "gateway: {store: {address: 'r:6379'}}                     | true",
        "gateway: {placement: Head, store: {address: 'r:6379'}}    | false",
        "gateway: {store: {address: 'r:6379'}}\\nfaultTolerance: {useGatewayStore: false} | false",
        "faultTolerance: {redis: {address: 'r:6379'}}              | true",
      })
  void theGatewayRunsOnItsOwnWorkersWhenTheHeadMayRestartUnderIt(String spec, boolean workers) {
    var cluster = cluster(spec == null ? "" : spec.replace("\\n", "\n"));
    assertThat(GatewayPlacement.onWorkers(cluster.getSpec())).isEqualTo(workers);
    var status = withGateway("RUNNING", null);
    ClusterGateway.build(cluster, status, new Conditions(null, 1L, Clock.systemUTC()), true, null);
    assertThat(status.gateway.placement).isEqualTo(workers ? "Workers" : "Head");
    var ray = rayClusterSpec(cluster, true);
    var head = ray.at("/headGroupSpec");
    assertThat(head.at("/template/metadata/labels/ndif.io~1gateway-host").asText())
        .isEqualTo(String.valueOf(!workers));
    assertThat(head.at("/rayStartParams/resources").asText().contains("ndif_gateway"))
        .isEqualTo(!workers);
    assertThat(head.at("/template/spec/volumes").toString().contains("api-keys"))
        .isEqualTo(!workers);
    var gatewayGroups = new java.util.ArrayList<com.fasterxml.jackson.databind.JsonNode>();
    ray.at("/workerGroupSpecs")
        .forEach(
            g -> {
              if ("ndif-gateway".equals(g.path("groupName").asText())) {
                gatewayGroups.add(g);
              } else {
                // model workers never hold the gateway's Secrets
                assertThat(g.at("/template/spec/volumes").toString()).doesNotContain("api-keys");
              }
            });
    assertThat(gatewayGroups).hasSize(workers ? 1 : 0);
    if (workers) {
      var group = gatewayGroups.get(0);
      assertThat(group.at("/replicas").asInt()).isEqualTo(1);
      assertThat(group.at("/maxReplicas").asInt()).isEqualTo(1);
      assertThat(group.at("/rayStartParams/num-gpus").asText()).isEqualTo("0");
      assertThat(group.at("/rayStartParams/num-cpus").asText()).isEqualTo("2");
      assertThat(group.at("/rayStartParams/resources").asText()).contains("ndif_gateway");
      assertThat(group.at("/template/metadata/labels/ndif.io~1gateway-host").asText())
          .isEqualTo("true");
      assertThat(group.at("/template/spec/volumes").toString()).contains("api-keys");
      assertThat(group.at("/template/spec/containers/0/ports").toString())
          .contains("\"containerPort\":8001");
      assertThat(head.at("/template/spec/containers/0/ports").toString()).doesNotContain("8001");
    }
  }

  @org.junit.jupiter.api.Test
  void theKeysAreOnlyOnTheHeadWhereTheGatewayIsPinned() {
    var cluster = cluster("");
    var spec = rayClusterSpec(cluster, true);
    assertThat(spec.at("/headGroupSpec/template/spec/volumes").toString()).contains("api-keys");
    assertThat(spec.at("/workerGroupSpecs/0/template/spec/volumes").toString())
        .doesNotContain("api-keys");
    assertThat(spec.at("/headGroupSpec/rayStartParams/resources").asText())
        .isEqualTo("\"{\\\"ndif_gateway\\\": 1000}\"");
    assertThat(spec.at("/headGroupSpec/template/metadata/labels/ndif.io~1gateway-host").asText())
        .isEqualTo("true");
    var options =
        io.fabric8.kubernetes.client.utils.Serialization.jsonMapper()
            .valueToTree(ClusterGateway.application(cluster, true))
            .at("/deployments");
    assertThat(options.at("/0/ray_actor_options/resources/ndif_gateway").asInt()).isEqualTo(1);
    assertThat(options.at("/1/ray_actor_options/resources/ndif_gateway").asInt()).isEqualTo(1);

    // A head from before the gateway's resource: the gateway goes anywhere and the keys with it.
    var unpinned = rayClusterSpec(cluster, false);
    assertThat(unpinned.at("/workerGroupSpecs/0/template/spec/volumes").toString())
        .contains("api-keys");
    assertThat(
            io.fabric8.kubernetes.client.utils.Serialization.jsonMapper()
                .valueToTree(ClusterGateway.application(cluster, false))
                .at("/deployments/0/ray_actor_options/resources")
                .isMissingNode())
        .isTrue();
  }

  @ParameterizedTest
  @CsvSource(
      delimiter = '|',
      value = {
        "           | true",
        "true       | true",
        "absent     | false",
      })
  void theGatewayIsPinnedUnlessTheLiveHeadPredatesItsResource(String headLabel, boolean onHead) {
    var pods = new java.util.ArrayList<io.fabric8.kubernetes.api.model.Pod>();
    if (headLabel != null) {
      var labels = new java.util.HashMap<String, String>();
      labels.put("ray.io/node-type", "head");
      if ("true".equals(headLabel)) {
        labels.put("ndif.io/gateway-host", "true");
      }
      pods.add(
          new io.fabric8.kubernetes.api.model.PodBuilder()
              .withNewMetadata()
              .withName("head")
              .withLabels(labels)
              .endMetadata()
              .build());
    }
    pods.add(
        new io.fabric8.kubernetes.api.model.PodBuilder()
            .withNewMetadata()
            .withName("worker")
            .withLabels(java.util.Map.of("ray.io/node-type", "worker"))
            .endMetadata()
            .build());
    assertThat(GatewayPlacement.pinned(cluster(""), pods)).isEqualTo(onHead);
    assertThat(
            GatewayPlacement.pinned(
                cluster("external: {dashboardUrl: 'http://127.0.0.1:8265'}"), List.of()))
        .isFalse();
  }
}
