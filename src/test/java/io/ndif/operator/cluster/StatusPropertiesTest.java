package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.ndif.operator.api.ModelSpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterSpec;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.PlacementSpec;
import io.ndif.operator.api.PoolSpec;
import io.ndif.operator.api.ReplicaResources;
import io.ndif.operator.api.ServeSpec;
import io.ndif.operator.deployment.DeploymentStatusBuilder;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.placement.Planner;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * Random valid NdifClusters and NdifDeployments, as the API server would admit them, through the
 * planning and both status builders: no exception, nothing above capacity, every deployment with
 * its three conditions, and the same status whatever order the informer hands them in.
 */
class StatusPropertiesTest {
  private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");
  private final ClusterPlanning planning = new ClusterPlanning(new Planner(Duration.ofHours(1)));
  private final ClusterStatusBuilder clusters =
      new ClusterStatusBuilder(Clock.fixed(NOW, ZoneOffset.UTC));
  private final DeploymentStatusBuilder deployments =
      new DeploymentStatusBuilder(Clock.fixed(NOW, ZoneOffset.UTC));

  @Property(tries = 2000)
  void statusIsBuiltForAnyValidWorld(@ForAll long seed, @ForAll @IntRange(max = 30) int count) {
    Random random = new Random(seed);
    NdifCluster cluster = cluster(random);
    List<NdifDeployment> ds = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      ds.add(deployment(random, i, cluster));
    }

    var plan = planning.plan(cluster, ds, NOW);
    var status =
        clusters.build(cluster, new ClusterObservation(null, List.of(), Map.of(), null, plan));
    for (var pool : status.pools) {
      var spec =
          cluster.getSpec().pools.stream().filter(p -> p.name.equals(pool.name)).findFirst().get();
      if (pool.allocatedGpus != null) {
        assertThat(pool.allocatedGpus)
            .isLessThanOrEqualTo(spec.gpusPerNode * (double) spec.maxNodesOrDefault() + 1e-9);
      }
    }
    assertThat(status.deployments).hasSize(count);
    cluster.setStatus(status);
    for (NdifDeployment d : ds) {
      var built = deployments.build(d, cluster);
      for (String type : List.of("Ready", "Scheduled", "Degraded")) {
        assertThat(Conditions.find(built.conditions, type)).as(type).isPresent();
      }
    }

    List<NdifDeployment> shuffled = new ArrayList<>(ds);
    Collections.shuffle(shuffled, random);
    cluster.setStatus(null);
    var again = planning.plan(cluster, shuffled, NOW);
    assertThat(again.placements())
        .usingRecursiveFieldByFieldElementComparator()
        .containsExactlyElementsOf(plan.placements());
  }

  private static NdifCluster cluster(Random random) {
    var spec = new NdifClusterSpec();
    spec.pools = new ArrayList<>();
    int pools = 1 + random.nextInt(3);
    for (int i = 0; i < pools; i++) {
      var pool = new PoolSpec();
      pool.name = "p" + i;
      pool.gpusPerNode = 1 + random.nextInt(8);
      pool.gpuMemory = List.of("16Gi", "24Gi", "80Gi").get(random.nextInt(3));
      pool.nodes = random.nextInt(4);
      spec.pools.add(pool);
    }
    var cluster = new NdifCluster();
    cluster.setMetadata(
        new ObjectMetaBuilder().withName("fleet").withNamespace("ns").withGeneration(1L).build());
    cluster.setSpec(spec);
    return cluster;
  }

  private static NdifDeployment deployment(Random random, int i, NdifCluster cluster) {
    var spec = new NdifDeploymentSpec();
    spec.clusterRef = "fleet";
    spec.model = new ModelSpec();
    spec.model.repoId = "org/model-" + i;
    switch (random.nextInt(4)) {
      case 0 -> spec.model.parameters = 1_000_000L * (1 + random.nextInt(400_000));
      case 1 -> spec.model.sizeBytes = (1 + random.nextInt(700)) + "Gi";
      case 2 -> spec.model.sizeBytes = (1 + random.nextInt(900)) + "Mi";
      default -> {
        // size unknown
      }
    }
    spec.replicas = random.nextInt(4);
    spec.priority = random.nextInt(3);
    spec.pinned = random.nextInt(5) == 0;
    if (random.nextInt(4) == 0) {
      spec.resources = new ReplicaResources();
      spec.resources.gpus = List.of(0.25, 0.5, 1.0, 2.0).get(random.nextInt(4));
    }
    if (random.nextInt(4) == 0) {
      spec.placement = new PlacementSpec();
      spec.placement.pool = "p" + random.nextInt(cluster.getSpec().pools.size() + 1);
    }
    if (random.nextInt(6) == 0) {
      spec.serve = new ServeSpec();
      spec.serve.importPath = "mylab.apps:build";
    }
    var d = new NdifDeployment();
    d.setMetadata(
        new ObjectMetaBuilder()
            .withName("d" + i)
            .withNamespace("ns")
            .withGeneration(1L)
            .withCreationTimestamp(NOW.minusSeconds(random.nextInt(7200)).toString())
            .build());
    d.setSpec(spec);
    return d;
  }
}
