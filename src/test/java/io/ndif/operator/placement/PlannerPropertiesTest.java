package io.ndif.operator.placement;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The planner over a few thousand random clusters: never throws, never overfills, never depends on
 * order.
 */
class PlannerPropertiesTest {
  private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");
  private static final long GI = 1L << 30;
  private final Planner planner = new Planner(Duration.ofHours(1));

  record Cluster(List<PoolCapacity> pools, List<Demand> demands, long seed) {}

  @Provide
  Arbitrary<Cluster> clusters() {
    Arbitrary<List<PoolCapacity>> pools =
        Combinators.combine(
                Arbitraries.integers().between(1, 8),
                Arbitraries.of(16L, 24L, 40L, 80L),
                Arbitraries.integers().between(0, 4),
                Arbitraries.integers().between(0, 4))
            .as((gpus, memory, nodes, min) -> new int[] {gpus, (int) (long) memory, nodes, min})
            .list()
            .ofMinSize(1)
            .ofMaxSize(4)
            .map(
                specs -> {
                  List<PoolCapacity> list = new ArrayList<>();
                  for (int i = 0; i < specs.size(); i++) {
                    int[] p = specs.get(i);
                    list.add(
                        new PoolCapacity("p" + i, p[0], p[1] * GI, p[2], Math.min(p[3], p[2])));
                  }
                  return list;
                });
    return pools.flatMap(
        poolList ->
            Combinators.combine(demands(poolList.size()), Arbitraries.longs())
                .as((demands, seed) -> new Cluster(poolList, demands, seed)));
  }

  private Arbitrary<List<Demand>> demands(int pools) {
    Arbitrary<Demand> demand =
        Combinators.combine(
                Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(0, 3600),
                Arbitraries.of(true, false, false, false),
                Arbitraries.longs().between(100L << 20, 700 * GI).injectNull(0.1),
                Arbitraries.of(0.25, 0.5, 1.0, 2.0, 4.0).injectNull(0.8),
                Arbitraries.integers().between(-1, pools - 1),
                Arbitraries.integers().between(0, 4))
            .as(
                (priority, age, pinned, size, gpus, pool, replicas) ->
                    new Demand(
                        "",
                        priority,
                        NOW.minusSeconds(age),
                        pinned,
                        size,
                        gpus,
                        pool < 0 ? null : "p" + pool,
                        replicas,
                        null,
                        null,
                        null,
                        null));
    return demand
        .list()
        .ofMaxSize(40)
        .map(
            list -> {
              List<Demand> named = new ArrayList<>();
              for (int i = 0; i < list.size(); i++) {
                Demand d = list.get(i);
                named.add(
                    new Demand(
                        "ns/d" + i,
                        d.priority(),
                        d.createdAt(),
                        d.pinned(),
                        d.sizeBytes(),
                        d.gpus(),
                        d.pool(),
                        d.replicas(),
                        null,
                        null,
                        null,
                        null));
              }
              return named;
            });
  }

  @Property(tries = 3000)
  void neverAllocatesAboveCapacityAndDecidesEveryDeployment(@ForAll("clusters") Cluster c) {
    Plan plan = planner.plan(c.pools(), c.demands(), NOW);

    assertThat(plan.decisions().keySet())
        .containsExactlyInAnyOrderElementsOf(c.demands().stream().map(Demand::id).toList());
    for (PoolCapacity pool : c.pools()) {
      var summary = plan.pools().get(pool.name());
      assertThat(summary.allocatedGpus()).isLessThanOrEqualTo(pool.gpus() + 1e-9);
      assertThat(summary.desiredNodes()).isBetween(pool.minNodes(), pool.nodes());
      double admitted =
          plan.decisions().values().stream()
              .filter(d -> d.admitted() && pool.name().equals(d.pool()))
              .mapToDouble(
                  d ->
                      d.gpusPerReplica()
                          * c.demands().stream()
                              .filter(x -> x.id().equals(d.id()))
                              .findFirst()
                              .orElseThrow()
                              .replicas())
              .sum();
      assertThat(admitted).isLessThanOrEqualTo(pool.gpus() + 1e-9);
    }
    for (Decision d : plan.decisions().values()) {
      if (d.admitted()) {
        assertThat(c.pools()).anyMatch(p -> p.name().equals(d.pool()));
      } else {
        assertThat(d.reason()).isNotBlank();
      }
    }
  }

  @Property(tries = 2000)
  void theSameInputInAnyOrderGivesTheSamePlan(@ForAll("clusters") Cluster c) {
    Plan plan = planner.plan(c.pools(), c.demands(), NOW);
    List<Demand> demands = new ArrayList<>(c.demands());
    List<PoolCapacity> pools = new ArrayList<>(c.pools());
    Collections.shuffle(demands, new Random(c.seed()));
    Collections.shuffle(pools, new Random(c.seed() + 1));

    Plan shuffled = planner.plan(pools, demands, NOW);

    assertThat(shuffled.decisions()).isEqualTo(plan.decisions());
    assertThat(List.copyOf(shuffled.decisions().keySet()))
        .isEqualTo(List.copyOf(plan.decisions().keySet()));
    assertThat(shuffled.pools()).isEqualTo(plan.pools());
  }

  @Property(tries = 1000)
  void aPlanFedBackDecidesTheSame(@ForAll("clusters") Cluster c) {
    // A restarted operator reads the stored plan back: the same world decides the same.
    Plan plan = planner.plan(c.pools(), c.demands(), NOW);
    List<Demand> again = new ArrayList<>();
    for (Demand d : c.demands()) {
      again.add(d.after(plan.decisions().get(d.id()), NOW));
    }
    Plan replanned = planner.plan(c.pools(), again, NOW);
    assertThat(replanned.decisions()).isEqualTo(plan.decisions());
  }
}
