package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.testing.Fixtures;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RayAuthTest {
  private static Pod rayPod(String type, String authMode) {
    var container = new io.fabric8.kubernetes.api.model.ContainerBuilder().withName("ray");
    if (authMode != null) {
      container.addNewEnv().withName("RAY_AUTH_MODE").withValue(authMode).endEnv();
    }
    return new PodBuilder()
        .withNewMetadata()
        .withName(type)
        .withLabels(Map.of("ray.io/node-type", type))
        .endMetadata()
        .withNewSpec()
        .withContainers(container.build())
        .endSpec()
        .build();
  }

  /** The live pods decide; with none, the spec does. */
  @ParameterizedTest(name = "{0}: head {1}, worker {2} -> {3} ({4})")
  @CsvSource(
      delimiter = '|',
      nullValues = "-",
      value = {
        "Token    | none     | none     | ON  | Token",
        "Token    | token    | token    | ON  | Token",
        "Token    | -        | -        | OFF | WaitingForNewPods",
        "Token    | token    | -        | OFF | WaitingForNewPods",
        "Token    | disabled | disabled | OFF | WaitingForNewPods",
        "Disabled | none     | none     | OFF | Disabled",
        "Disabled | disabled | disabled | OFF | Disabled",
        "Disabled | token    | token    | ON  | WaitingForNewPods",
      })
  void theLivePodsDecideAndTheConditionSaysWhy(
      String wanted, String head, String worker, String effective, String reason) {
    var cluster =
        Fixtures.cluster("fleet", Fixtures.TWO_POOLS + "rayAuth: " + wanted.strip() + "\n");
    List<Pod> pods = new ArrayList<>();
    if (!"none".equals(head)) {
      pods.add(rayPod("head", head));
    }
    if (!"none".equals(worker)) {
      pods.add(rayPod("worker", worker));
    }
    var result = RayAuth.effective(cluster, pods);
    assertThat(result.name()).isEqualTo(effective.strip());
    var conditions = new Conditions(null, 1L, Clock.systemUTC());
    RayAuth.condition(cluster, result, conditions);
    var condition = Conditions.find(conditions.build(), RayAuth.CONDITION).orElseThrow();
    assertThat(condition.getReason()).isEqualTo(reason.strip());
    assertThat(condition.getStatus()).isEqualTo(result == RayAuth.Effective.ON ? "True" : "False");
    assertThat(RayAuth.tokenSecret(cluster, result) != null)
        .isEqualTo(result == RayAuth.Effective.ON);
  }

  @Test
  void onAsksKubeRayForTheTokenAndOffSaysSoToRayItself() {
    var cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS);
    var on =
        Serialization.jsonMapper()
            .valueToTree(
                RayClusterSpecs.desired(
                        cluster, null, Set.of(), Map.of(), true, RayAuth.Effective.ON)
                    .spec());
    assertThat(on.at("/authOptions/mode").asText()).isEqualTo("token");
    assertThat(on.at("/headGroupSpec/template/spec/containers/0/env").toString())
        .doesNotContain("RAY_AUTH_MODE");
    var off =
        Serialization.jsonMapper()
            .valueToTree(
                RayClusterSpecs.desired(
                        cluster, null, Set.of(), Map.of(), true, RayAuth.Effective.OFF)
                    .spec());
    assertThat(off.at("/authOptions/mode").asText()).isEqualTo("disabled");
    for (String group : List.of("/headGroupSpec", "/workerGroupSpecs/0")) {
      assertThat(off.at(group + "/template/spec/containers/0/env").toString())
          .contains("{\"name\":\"RAY_AUTH_MODE\",\"value\":\"disabled\"}");
    }
    var secret = RayAuth.tokenSecret(cluster, RayAuth.Effective.ON);
    assertThat(secret.getName()).isEqualTo("fleet");
    assertThat(secret.getKey()).isEqualTo("auth_token");
  }

  @Test
  void anAdoptedClusterSendsTheTokenItNames() {
    var adopted =
        Fixtures.cluster(
            "lab",
            Fixtures.TWO_POOLS
                + "external: {dashboardUrl: 'http://127.0.0.1:8265',"
                + " authTokenSecretRef: {name: ray-token, key: token}}\n"
                + "gateway: {enabled: false}\n");
    assertThat(RayAuth.effective(adopted, List.of())).isEqualTo(RayAuth.Effective.OFF);
    var secret = RayAuth.tokenSecret(adopted, RayAuth.Effective.OFF);
    assertThat(secret.getName()).isEqualTo("ray-token");
    assertThat(secret.getKey()).isEqualTo("token");
    var conditions = new Conditions(null, 1L, Clock.systemUTC());
    RayAuth.condition(adopted, RayAuth.Effective.OFF, conditions);
    assertThat(Conditions.find(conditions.build(), RayAuth.CONDITION).orElseThrow().getMessage())
        .contains("Secret ray-token (token)");
  }
}
