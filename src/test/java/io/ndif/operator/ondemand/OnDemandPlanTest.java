package io.ndif.operator.ondemand;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifClusterStatus.DeploymentPlacement;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.OnDemandSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class OnDemandPlanTest {
  static final Instant NOW = Instant.parse("2026-12-07T12:00:00Z");

  static OnDemandSpec spec(String yaml) {
    return Serialization.unmarshal(yaml, OnDemandSpec.class);
  }

  static final OnDemandSpec LAB =
      spec(
          """
          models:
          - {repoId: "ndif-local/*", sizeBytes: 1Gi}
          - {repoId: org/exact-7b, parameters: 7000000000}
          maxDeployments: 2
          idleSeconds: 600
          """);

  static NdifDeployment deployment(String name, String repo, boolean onDemand, Instant created) {
    var d = new NdifDeployment();
    var meta =
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace("ns")
            .withCreationTimestamp(created.toString());
    if (onDemand) {
      meta.withLabels(Map.of(Constants.LABEL_ON_DEMAND, "true"));
    }
    d.setMetadata(meta.build());
    d.setSpec(
        Serialization.unmarshal(
            "clusterRef: c\nmodel: {repoId: " + repo + "}\n", NdifDeploymentSpec.class));
    return d;
  }

  static GatewayDemand waiting(String... repos) {
    Map<String, GatewayDemand.Waiting> waiting = new LinkedHashMap<>();
    for (String repo : repos) {
      waiting.put(repo, new GatewayDemand.Waiting(1, NOW.minusSeconds(3)));
    }
    return new GatewayDemand(waiting, Map.of(), Map.of());
  }

  @ParameterizedTest
  @CsvSource({
    "ndif-local/*, ndif-local/tiny-gpt2, true",
    "ndif-local/*, ndif-local/deep/er, false",
    "ndif-local/*, ndif-localx/tiny, false",
    "org/llama-3.?-8b, org/llama-3.1-8b, true",
    "org/llama-3.?-8b, org/llama-3.10-8b, false",
    "org/exact-7b, org/exact-7b, true",
    "org/exact-7b, org/exact-7bb, false",
    "*/*, any/model, true",
  })
  void patternsMatchAsTheGatewayMatches(String pattern, String repo, boolean expected) {
    assertThat(AllowList.matches(pattern, repo)).isEqualTo(expected);
  }

  @Test
  void anAllowedModelThatNothingServesIsCreatedAndTheOthersAreNot() {
    var served = deployment("hand-made", "org/exact-7b", false, NOW.minusSeconds(60));
    var actions =
        OnDemandPlan.decide(
            LAB,
            List.of(served),
            waiting("ndif-local/tiny-gpt2", "org/exact-7b", "elsewhere/model"),
            Map.of(),
            NOW);
    assertThat(actions.create()).containsExactly("ndif-local/tiny-gpt2");
    assertThat(actions.states())
        .containsEntry(
            "org/exact-7b",
            new OnDemandPlan.State("Planning", "NdifDeployment hand-made is planned"))
        .containsEntry(
            "elsewhere/model",
            new OnDemandPlan.State("Refused", "this cluster does not deploy it on demand"));
    assertThat(actions.delete()).isEmpty();
  }

  @Test
  void aFloodOfModelsStopsAtTheCap() {
    var actions =
        OnDemandPlan.decide(
            LAB,
            List.of(deployment("od-a", "ndif-local/a", true, NOW.minusSeconds(5))),
            waiting("ndif-local/b", "ndif-local/c", "ndif-local/d"),
            Map.of(),
            NOW);
    assertThat(actions.create()).containsExactly("ndif-local/b");
    assertThat(actions.states().get("ndif-local/c").message())
        .isEqualTo(
            "the cluster's limit of 2 on-demand deployments is reached; it is deployed when one"
                + " idles out");
  }

  @Test
  void theGpuCapCountsWhatTheOnDemandDeploymentsArePlannedToHold() {
    var capped = spec("models: [{repoId: '*/*'}]\nmaxGpus: 2");
    var placement = new DeploymentPlacement();
    placement.name = "od-a";
    placement.admitted = true;
    placement.gpusPerReplica = 2.0;
    placement.replicas = 1;
    var actions =
        OnDemandPlan.decide(
            capped,
            List.of(deployment("od-a", "x/a", true, NOW)),
            waiting("x/b"),
            Map.of("od-a", placement),
            NOW);
    assertThat(actions.create()).isEmpty();
    assertThat(actions.states().get("x/b").phase()).isEqualTo("Waiting");
  }

  @Test
  void aWaitingJobHearsThePlacementOfItsDeployment() {
    var pending = new DeploymentPlacement();
    pending.name = "od-a";
    pending.admitted = false;
    pending.reason = "InsufficientCapacity";
    pending.message = "needs 1 x 80Gi GPU in pool a100; 0 free of 8";
    var state =
        OnDemandPlan.decide(
                LAB,
                List.of(deployment("od-a", "ndif-local/a", true, NOW)),
                waiting("ndif-local/a"),
                Map.of("od-a", pending),
                NOW)
            .states()
            .get("ndif-local/a");
    assertThat(state)
        .isEqualTo(
            new OnDemandPlan.State(
                "InsufficientCapacity", "needs 1 x 80Gi GPU in pool a100; 0 free of 8"));
  }

  @Test
  void onlyIdleOnDemandDeploymentsAreDeleted() {
    Instant old = NOW.minus(Duration.ofHours(2));
    var idle = deployment("od-idle", "ndif-local/idle", true, old);
    var busy = deployment("od-busy", "ndif-local/busy", true, old);
    var recent = deployment("od-recent", "ndif-local/recent", true, old);
    var handMade = deployment("mine", "org/mine", false, old);
    var demand =
        new GatewayDemand(
            Map.of(),
            Map.of("ndif-local/recent", NOW.minusSeconds(100)),
            Map.of("ndif-local/busy", 1));
    var actions =
        OnDemandPlan.decide(LAB, List.of(idle, busy, recent, handMade), demand, Map.of(), NOW);
    assertThat(actions.delete()).extracting(OnDemandPlan.Removal::name).containsExactly("od-idle");
    assertThat(actions.delete().get(0).idle()).isEqualTo(Duration.ofHours(2));
    // The gateway's last use is written down, so that a restarted gateway forgets nothing.
    assertThat(actions.lastUsed()).containsOnlyKeys("od-recent");
  }

  @Test
  void aWrittenLastUseOutlivesTheGatewaysMemory() {
    var d = deployment("od-a", "ndif-local/a", true, NOW.minus(Duration.ofHours(2)));
    d.getMetadata()
        .setAnnotations(Map.of(Constants.ANNOTATION_LAST_USED, NOW.minusSeconds(300).toString()));
    var actions = OnDemandPlan.decide(LAB, List.of(d), GatewayDemand.NONE, Map.of(), NOW);
    assertThat(actions.delete()).isEmpty();
    var later =
        OnDemandPlan.decide(LAB, List.of(d), GatewayDemand.NONE, Map.of(), NOW.plusSeconds(300));
    assertThat(later.delete()).extracting(OnDemandPlan.Removal::name).containsExactly("od-a");
  }

  @Test
  void aLastUseIsWrittenOnlyWhenItMovedAMinute() {
    var d = deployment("od-a", "ndif-local/a", true, NOW.minus(Duration.ofHours(2)));
    d.getMetadata()
        .setAnnotations(Map.of(Constants.ANNOTATION_LAST_USED, NOW.minusSeconds(30).toString()));
    var demand = new GatewayDemand(Map.of(), Map.of("ndif-local/a", NOW), Map.of());
    assertThat(OnDemandPlan.decide(LAB, List.of(d), demand, Map.of(), NOW).lastUsed()).isEmpty();
    var moved = new GatewayDemand(Map.of(), Map.of("ndif-local/a", NOW.plusSeconds(40)), Map.of());
    assertThat(OnDemandPlan.decide(LAB, List.of(d), moved, Map.of(), NOW).lastUsed())
        .containsEntry("od-a", NOW.plusSeconds(40));
  }

  @Test
  void namesAreDnsLabelsThatTellTheModelApart() {
    assertThat(OnDemandDeployments.name("ndif-local/tiny-gpt2"))
        .startsWith("od-ndif-local-tiny-gpt2-")
        .hasSize("od-ndif-local-tiny-gpt2-".length() + 8);
    assertThat(OnDemandDeployments.name("Org/Model.V2"))
        .isNotEqualTo(OnDemandDeployments.name("org/model-v2"));
    assertThat(OnDemandDeployments.name("a/" + "x".repeat(200)))
        .matches("[a-z0-9]([-a-z0-9]*[a-z0-9])?")
        .hasSizeLessThanOrEqualTo(63);
  }

  @Test
  void theGatewaysReportIsReadByRepositoryId() throws Exception {
    var demand =
        GatewayDemand.parse(
            """
            {"waiting": {"nnsight.modeling.transformers.TransformersModel:{\\"repo_id\\": \\"a/b\\", \\"revision\\": null}": {"jobs": 2, "since": 1765108800.5}},
             "used": {"nnsight.modeling.transformers.TransformersModel:{\\"repo_id\\": \\"a/c\\"}": 1765108801.0},
             "active": {"garbage": 3}}
            """);
    assertThat(demand.waiting())
        .containsEntry("a/b", new GatewayDemand.Waiting(2, Instant.ofEpochMilli(1765108800500L)));
    assertThat(demand.used()).containsEntry("a/c", Instant.ofEpochSecond(1765108801));
    assertThat(demand.active()).isEmpty();
  }
}
