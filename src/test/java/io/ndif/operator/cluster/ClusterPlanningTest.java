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

  private static final String COURSE =
      """
      model: {repoId: a/course, sizeBytes: 500Gi}
      replicas: 3
      placement: {pool: a100}
      schedule:
        timeZone: Europe/Berlin
        windows:
        - {name: course, cron: "0 9 * * 1-5", duration: 8h, priority: 100}
      """;
  private static final String URGENT =
      "model: {repoId: a/urgent, sizeBytes: 500Gi}\nreplicas: 3\nplacement: {pool: a100}\npriority: 50";

  /** Wednesday 2026-12-02 12:00Z is 13:00 in Berlin: the course's window is open until 16:00Z. */
  @Test
  void anOpenWindowPinsAndRaisesItsDeploymentAndTheClosedWindowDoesNot() {
    var cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS);
    var course = deployment("course", COURSE);
    var urgent = deployment("urgent", URGENT);
    admittedLongAgo(cluster, "course");

    var open = planning.plan(cluster, List.of(course, urgent), NOW);
    assertThat(open.placements())
        .extracting(p -> p.name + " " + p.admitted)
        .containsExactlyInAnyOrder("course true", "urgent false");
    assertThat(open.nextScheduleEdge()).isEqualTo(Instant.parse("2026-12-02T16:00:00Z"));

    // After the window the course is an ordinary priority-0 deployment: urgent preempts it.
    var evening = Instant.parse("2026-12-02T17:00:00Z");
    var closed = planning.plan(cluster, List.of(course, urgent), evening);
    assertThat(closed.placements())
        .extracting(p -> p.name + " " + p.admitted)
        .containsExactlyInAnyOrder("course false", "urgent true");
    assertThat(closed.nextScheduleEdge()).isEqualTo(Instant.parse("2026-12-03T08:00:00Z"));
  }

  @Test
  void aWindowThatOpensLetsItsDeploymentPreemptWithItsRaisedPriority() {
    var cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS);
    var course = deployment("course", COURSE);
    var urgent = deployment("urgent", URGENT);
    admittedLongAgo(cluster, "urgent");
    var before = Instant.parse("2026-12-03T07:59:00Z");
    assertThat(planning.plan(cluster, List.of(course, urgent), before).placements())
        .extracting(p -> p.name + " " + p.admitted)
        .containsExactlyInAnyOrder("course false", "urgent true");

    var opened = Instant.parse("2026-12-03T08:00:00Z");
    assertThat(planning.plan(cluster, List.of(course, urgent), opened).placements())
        .extracting(p -> p.name + " " + p.admitted)
        .containsExactlyInAnyOrder("course true", "urgent false");
  }

  @Test
  void aPoolThatKeepsAWarmCopyOfTheModelIsPreferredOverBestFit() {
    var cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS);
    var small = deployment("small", "model: {repoId: a/small, sizeBytes: 16Gi}");
    // best fit: the smallest GPU that holds it
    assertThat(planning.plan(cluster, List.of(small), NOW).placements().get(0).pool)
        .isEqualTo("l4");

    var status = new io.ndif.operator.api.NdifClusterStatus();
    var copy = new io.ndif.operator.api.NdifClusterStatus.WarmCopy();
    copy.modelKey = io.ndif.operator.deployment.ModelKeys.of(small.getSpec().model);
    copy.pool = "a100";
    copy.node = "fleet-a100-worker-0";
    status.warmCopies = List.of(copy);
    cluster.setStatus(status);
    var placed = planning.plan(cluster, List.of(small), NOW).placements().get(0);
    assertThat(placed.pool).isEqualTo("a100");
    assertThat(placed.admitted).isTrue();
  }

  private static void admittedLongAgo(io.ndif.operator.api.NdifCluster cluster, String... names) {
    var status = new io.ndif.operator.api.NdifClusterStatus();
    for (String name : names) {
      var p = new io.ndif.operator.api.NdifClusterStatus.DeploymentPlacement();
      p.name = name;
      p.admitted = true;
      p.pool = "a100";
      p.admittedAt = NOW.minus(Duration.ofDays(2)).toString();
      status.deployments.add(p);
    }
    cluster.setStatus(status);
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
