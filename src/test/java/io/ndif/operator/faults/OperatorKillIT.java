package io.ndif.operator.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.OperatorCrds;
import io.ndif.operator.testing.PackagedOperator;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The packaged operator, as its own process, SIGKILLed again and again while deployments are
 * created, changed and deleted on several clusters. Afterwards every decision is current, every
 * Serve config holds exactly its cluster's admitted applications, no application is on two
 * clusters, no pool is over-allocated, and a further restart writes nothing. Small by default;
 * {@code -Dndif.faults.rounds=N -Dndif.faults.clusters=M} scales it up.
 */
class OperatorKillIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final int ROUNDS = Integer.getInteger("ndif.faults.rounds", 6);
  private static final int CLUSTERS = Integer.getInteger("ndif.faults.clusters", 3);
  private static final List<FakeRayDashboard> dashboards = new ArrayList<>();
  private static PackagedOperator operator;

  @BeforeAll
  static void start() throws Exception {
    OperatorCrds.install(cluster.client(), cluster.cluster().projectDir());
    for (int i = 0; i < CLUSTERS; i++) {
      var dashboard = new FakeRayDashboard();
      dashboards.add(dashboard);
      cluster.createExternalCluster("c" + i, dashboard.url(), 2);
    }
    operator = new PackagedOperator(cluster.cluster(), cluster.namespace());
  }

  @AfterAll
  static void stop() {
    if (operator != null) {
      operator.close();
    }
    dashboards.forEach(FakeRayDashboard::close);
  }

  @Test
  void killedAgainAndAgainItConvergesAndARestartWritesNothing() throws Exception {
    Random random = new Random(42);
    Set<String> live = new HashSet<>();
    int next = 0;
    for (int round = 0; round < ROUNDS; round++) {
      operator.start();
      for (int change = 0; change < 6; change++) {
        int choice = random.nextInt(10);
        if (live.isEmpty() || choice < 5) {
          String name = "m" + next++;
          cluster.createDeployment(
              name,
              "c" + random.nextInt(CLUSTERS),
              "model: {repoId: org/%s, sizeBytes: %dGi}\nreplicas: %d\npriority: %d"
                  .formatted(
                      name, 10 + random.nextInt(150), 1 + random.nextInt(2), random.nextInt(3)));
          live.add(name);
        } else if (choice < 8) {
          String name = pick(live, random);
          // A merge patch, as kubectl sends it: no resourceVersion to race the status writes.
          cluster
              .ndifDeployment(name)
              .patch(
                  PatchContext.of(PatchType.JSON_MERGE),
                  "{\"spec\": {\"replicas\": " + (1 + random.nextInt(3)) + "}}");
        } else {
          String name = pick(live, random);
          cluster.ndifDeployment(name).delete();
          live.remove(name);
        }
      }
      // Killed at a random point of its work: mid-reconcile, between a PUT and a status write.
      Thread.sleep(300 + random.nextInt(2500));
      operator.kill();
    }

    operator.start();
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(() -> assertConverged(live));

    // A further restart changes no decision and writes nothing: no status, no Serve config.
    Map<String, String> versions = resourceVersions();
    int puts = dashboards.stream().mapToInt(FakeRayDashboard::puts).sum();
    operator.kill();
    operator.start();
    Thread.sleep(15_000);
    assertThat(resourceVersions()).isEqualTo(versions);
    assertThat(dashboards.stream().mapToInt(FakeRayDashboard::puts).sum()).isEqualTo(puts);
  }

  private static void assertConverged(Set<String> live) {
    var deployments =
        cluster.client().resources(NdifDeployment.class).inNamespace(cluster.namespace()).list();
    assertThat(deployments.getItems().stream().map(d -> d.getMetadata().getName()))
        .containsExactlyInAnyOrderElementsOf(live);
    for (NdifDeployment d : deployments.getItems()) {
      assertThat(d.getStatus()).as(d.getMetadata().getName()).isNotNull();
      assertThat(d.getStatus().observedGeneration)
          .as("%s observedGeneration", d.getMetadata().getName())
          .isEqualTo(d.getMetadata().getGeneration());
    }
    Map<String, String> servedBy = new HashMap<>();
    for (int i = 0; i < CLUSTERS; i++) {
      NdifCluster c = cluster.ndifCluster("c" + i).get();
      var status = c.getStatus();
      assertThat(status).isNotNull();
      assertThat(status.observedGeneration).isEqualTo(c.getMetadata().getGeneration());
      for (var pool : status.pools) {
        assertThat(pool.allocatedGpus == null ? 0.0 : pool.allocatedGpus)
            .as("c%d pool %s", i, pool.name)
            .isLessThanOrEqualTo(pool.gpus == null ? 16.0 : pool.gpus.doubleValue());
      }
      List<String> admitted = new ArrayList<>();
      status.deployments.stream()
          .filter(p -> Boolean.TRUE.equals(p.admitted))
          .forEach(p -> admitted.add(cluster.namespace() + "_" + p.name));
      List<String> applied = new ArrayList<>();
      dashboards
          .get(i)
          .lastConfig()
          .path("applications")
          .forEach(a -> applied.add(a.path("name").asText()));
      List<String> models = applied.stream().filter(n -> !n.equals("ndif-gateway")).toList();
      assertThat(models).as("c%d's Serve config", i).containsExactlyInAnyOrderElementsOf(admitted);
      for (String app : models) {
        String other = servedBy.put(app, "c" + i);
        assertThat(other).as("%s on two clusters", app).isNull();
      }
    }
  }

  private static Map<String, String> resourceVersions() {
    Map<String, String> versions = new TreeMap<>();
    cluster
        .client()
        .resources(NdifDeployment.class)
        .inNamespace(cluster.namespace())
        .list()
        .getItems()
        .forEach(
            d ->
                versions.put(
                    "d/" + d.getMetadata().getName(), d.getMetadata().getResourceVersion()));
    cluster
        .client()
        .resources(NdifCluster.class)
        .inNamespace(cluster.namespace())
        .list()
        .getItems()
        .forEach(
            c ->
                versions.put(
                    "c/" + c.getMetadata().getName(), c.getMetadata().getResourceVersion()));
    return versions;
  }

  private static String pick(Set<String> live, Random random) {
    List<String> names = new ArrayList<>(live);
    names.sort(null);
    return names.get(random.nextInt(names.size()));
  }
}
