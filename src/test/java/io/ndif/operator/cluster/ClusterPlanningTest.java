package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.placement.Planner;
import io.ndif.operator.testing.Fixtures;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClusterPlanningTest {
  private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");
  private final ClusterPlanning planning = new ClusterPlanning(new Planner(Duration.ofHours(1)));

  @Test
  void aDeploymentOutsideThePolicyHoldsNoGpusAndTheOthersArePlannedAsWithout() {
    var cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS);
    var custom =
        deployment("custom", "model: {repoId: a/b, sizeBytes: 600Gi}\nserve: {importPath: 'x:y'}");
    var plain = deployment("plain", "model: {repoId: a/c, sizeBytes: 600Gi}");

    var result = planning.plan(cluster, List.of(custom, plain), NOW);

    assertThat(result.placements())
        .extracting(p -> p.name + " " + p.admitted + " " + p.reason)
        .containsExactly("plain true Admitted", "custom false PolicyDenied");
    var denied = result.placements().get(1);
    assertThat(denied.pool).isNull();
    assertThat(denied.message)
        .isEqualTo(
            "serve.importPath x:y is not in the cluster's policy.allowedImportPaths"
                + " [ndif_serve.app:build]");
    // 600Gi takes 8 of the 16 A100s: the denied one would have taken the other 8.
    assertThat(result.plan().pools().get("a100").allocatedGpus()).isEqualTo(8.0);

    // The owner allows it: it is planned like any other.
    var policy = new io.ndif.operator.api.ServePolicySpec();
    policy.allowedImportPaths = List.of("ndif_serve.app:build", "x:y");
    cluster.getSpec().policy = policy;
    var allowed = planning.plan(cluster, List.of(custom, plain), NOW);
    assertThat(allowed.placements()).allMatch(p -> Boolean.TRUE.equals(p.admitted));
  }

  private static NdifDeployment deployment(String name, String spec) {
    var d = new NdifDeployment();
    d.setMetadata(
        new ObjectMetaBuilder()
            .withName(name)
            .withNamespace("ns")
            .withCreationTimestamp(NOW.minusSeconds(name.length()).toString())
            .build());
    d.setSpec(Serialization.unmarshal("clusterRef: fleet\n" + spec, NdifDeploymentSpec.class));
    return d;
  }
}
