package io.ndif.operator.placement;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PlannerTest {
  static final long GI = 1L << 30;
  static final Instant NOW = Instant.parse("2026-06-01T12:00:00Z");
  static final Instant LONG_AGO = NOW.minus(Duration.ofHours(3));
  static final Instant RECENTLY = NOW.minus(Duration.ofMinutes(5));
  static final PoolCapacity A100 = new PoolCapacity("a100", 8, 80 * GI, 2, 0);
  static final PoolCapacity L4 = new PoolCapacity("l4", 4, 24 * GI, 2, 0);

  private final Planner planner = new Planner(Duration.ofHours(1));

  static Stream<Arguments> sizes() {
    return Stream.of(
        // NDIF's own example: 7B parameters in bf16.
        Arguments.of(7_000_000_000L, 2, null, null, 16_624_288_000L),
        Arguments.of(7_000_000_000L, 4, null, null, 32_724_288_000L),
        Arguments.of(1_000_000_000L, 2, 0.0, 0L, 2_000_000_000L),
        Arguments.of(1_000_000_000L, 2, 0.5, 1000L, 3_000_001_000L));
  }

  @ParameterizedTest
  @MethodSource("sizes")
  void sizeFromParametersAndDtype(
      long parameters, int bytes, Double factor, Long bias, long expected) {
    assertThat(ModelSizes.estimate(null, parameters, bytes, factor, bias)).hasValue(expected);
  }

  @Test
  void anExplicitSizeWinsAndNothingKnownIsEmpty() {
    assertThat(ModelSizes.estimate(5L, 7L, 2, null, null)).hasValue(5L);
    assertThat(ModelSizes.estimate(null, null, 2, null, null)).isEmpty();
  }

  static Stream<Arguments> gpusPerReplica() {
    return Stream.of(
        Arguments.of(8 * GI, 80 * GI, 0.1),
        Arguments.of(8 * GI + 1, 80 * GI, 0.11),
        Arguments.of(80 * GI, 80 * GI, 1.0),
        Arguments.of(80 * GI + 1, 80 * GI, 2.0),
        Arguments.of(1L, 80 * GI, 0.01),
        Arguments.of(300 * GI, 80 * GI, 4.0));
  }

  @ParameterizedTest
  @MethodSource("gpusPerReplica")
  void gpusPerReplicaShareSmallModelsAndRoundLargeOnesUp(
      long size, long gpuMemory, double expected) {
    assertThat(ModelSizes.gpusPerReplica(size, gpuMemory)).isEqualTo(expected);
  }

  @Test
  void smallModelsShareAGpu() {
    var onePool = List.of(new PoolCapacity("one", 1, 80 * GI, 1, 0));
    List<Demand> demands = new ArrayList<>();
    for (int i = 0; i < 11; i++) {
      demands.add(Demand.of("ns/m" + i, 0, LONG_AGO.plusSeconds(i), 8 * GI, 1));
    }
    var plan = planner.plan(onePool, demands, NOW);
    assertThat(plan.decisions().values().stream().filter(Decision::admitted)).hasSize(10);
    var last = plan.decisions().get("ns/m10");
    assertThat(last.reason()).isEqualTo(Decision.INSUFFICIENT_CAPACITY);
    assertThat(last.message()).isEqualTo("needs 0.1 x 80Gi GPUs in pool one; 0 free of 1");
    assertThat(plan.pools().get("one").allocatedGpus()).isEqualTo(1.0);
  }

  static Stream<Arguments> bestFit() {
    return Stream.of(
        Arguments.of("fits an L4: the smallest GPU that holds it", 16 * GI, "l4"),
        Arguments.of("one A100 holds it, an L4 would need two", 30 * GI, "a100"),
        Arguments.of("two A100s beat six L4s", 140 * GI, "a100"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("bestFit")
  void bestFitPool(String name, long size, String pool) {
    var plan = planner.plan(List.of(A100, L4), List.of(Demand.of("ns/m", 0, NOW, size, 1)), NOW);
    assertThat(plan.decisions().get("ns/m").pool()).isEqualTo(pool);
  }

  static Stream<Arguments> warmPools() {
    return Stream.of(
        Arguments.of("no warm copy: best fit", Set.of(), List.of(), "l4"),
        Arguments.of(
            "a warm copy in the A100 pool wins over best fit", Set.of("a100"), List.of(), "a100"),
        Arguments.of(
            "a warm copy where it does not fit is no reason", Set.of("l4"), List.of(), "l4"),
        Arguments.of(
            "a warm pool without room: the next that has room, before any preemption",
            Set.of("a100"),
            List.of(Demand.of("ns/big", 5, LONG_AGO, 600 * GI, 2).inPool("a100")),
            "l4"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("warmPools")
  void placementPrefersAPoolThatKeepsAWarmCopy(
      String name, Set<String> warm, List<Demand> others, String pool) {
    var demands = new ArrayList<>(others);
    demands.add(Demand.of("ns/m", 0, NOW, 16 * GI, 1));
    var plan = planner.plan(List.of(A100, L4), demands, NOW, Map.of("ns/m", warm));
    assertThat(plan.decisions().get("ns/m").pool()).isEqualTo(pool);
    assertThat(plan.decisions().get("ns/m").admitted()).isTrue();
  }

  @Test
  void bestFitMovesOnWhenThePreferredPoolIsFull() {
    var demands = new ArrayList<Demand>();
    for (int i = 0; i < 9; i++) {
      demands.add(Demand.of("ns/m" + i, 0, LONG_AGO.plusSeconds(i), 20 * GI, 1));
    }
    var plan = planner.plan(List.of(A100, L4), demands, NOW);
    assertThat(plan.pools().get("l4").admitted()).hasSize(8);
    assertThat(plan.decisions().get("ns/m8").pool()).isEqualTo("a100");
  }

  @Test
  void higherPriorityIsAdmittedFirstThenOlder() {
    var pool = List.of(new PoolCapacity("one", 8, 80 * GI, 1, 0));
    var plan =
        planner.plan(
            pool,
            List.of(
                Demand.of("ns/old-low", 0, LONG_AGO, 400 * GI, 1),
                Demand.of("ns/new-high", 10, NOW, 400 * GI, 1),
                Demand.of("ns/older-high", 10, LONG_AGO, 400 * GI, 1)),
            NOW);
    assertThat(plan.pools().get("one").admitted()).containsExactly("ns/older-high");
    assertThat(plan.decisions().keySet())
        .containsExactly("ns/older-high", "ns/new-high", "ns/old-low");
    assertThat(plan.decisions().get("ns/new-high").message())
        .isEqualTo("needs 5 x 80Gi GPUs in pool one; 3 free of 8");
  }

  @Test
  void admittedDeploymentsKeepTheirPlaceWhilePreemptionIsNotAllowed() {
    var pool = List.of(new PoolCapacity("one", 8, 80 * GI, 1, 0));
    var young = Demand.of("ns/young-low", 0, RECENTLY, 600 * GI, 1).admitted("one", RECENTLY);
    var pinned =
        Demand.of("ns/pinned-low", 0, LONG_AGO, 600 * GI, 1).pinned(true).admitted("one", LONG_AGO);
    var high = Demand.of("ns/high", 10, NOW, 600 * GI, 1);
    assertThat(planner.plan(pool, List.of(young, high), NOW).decisions().get("ns/high").reason())
        .isEqualTo(Decision.INSUFFICIENT_CAPACITY);
    assertThat(planner.plan(pool, List.of(pinned, high), NOW).decisions().get("ns/high").reason())
        .isEqualTo(Decision.INSUFFICIENT_CAPACITY);
    var sameWithoutHistory = planner.plan(pool, List.of(young.admitted(null, null), high), NOW);
    assertThat(sameWithoutHistory.decisions().get("ns/high").admitted()).isTrue();
  }

  @Test
  void preemptionEvictsTheFewestOldUnpinnedLowerPriorities() {
    var pool = List.of(new PoolCapacity("one", 8, 80 * GI, 1, 0));
    var big = Demand.of("ns/big", 0, LONG_AGO, 300 * GI, 1).admitted("one", LONG_AGO);
    var small1 = Demand.of("ns/small1", 0, LONG_AGO, 80 * GI, 1).admitted("one", LONG_AGO);
    var small2 = Demand.of("ns/small2", 0, LONG_AGO, 80 * GI, 1).admitted("one", LONG_AGO);
    var small3 = Demand.of("ns/small3", 1, LONG_AGO, 80 * GI, 1).admitted("one", LONG_AGO);
    var high = Demand.of("ns/high", 10, NOW, 300 * GI, 1);
    var plan = planner.plan(pool, List.of(big, small1, small2, small3, high), NOW);
    assertThat(plan.decisions().get("ns/high").admitted()).isTrue();
    var evicted = plan.decisions().get("ns/big");
    assertThat(evicted.admitted()).isFalse();
    assertThat(evicted.reason()).isEqualTo(Decision.PREEMPTED);
    assertThat(evicted.message()).isEqualTo("preempted by ns/high (priority 10) in pool one");
    assertThat(plan.pools().get("one").admitted())
        .containsExactlyInAnyOrder("ns/small1", "ns/small2", "ns/small3", "ns/high");
  }

  @Test
  void aPreemptedDeploymentStaysPreemptedUntilThereIsRoomThenComesBack() {
    var pool = List.of(new PoolCapacity("one", 8, 80 * GI, 1, 0));
    var low = Demand.of("ns/low", 0, LONG_AGO, 600 * GI, 1);
    var high = Demand.of("ns/high", 10, NOW, 600 * GI, 1).admitted("one", NOW);
    var waiting =
        low.wasPending(Decision.PREEMPTED, "preempted by ns/high (priority 10) in pool one");
    var still = planner.plan(pool, List.of(waiting, high), NOW).decisions().get("ns/low");
    assertThat(still.reason()).isEqualTo(Decision.PREEMPTED);
    assertThat(still.message()).contains("ns/high");
    var back = planner.plan(pool, List.of(waiting), NOW).decisions().get("ns/low");
    assertThat(back.admitted()).isTrue();
  }

  @Test
  void fragmentationIsRespected() {
    var pool = List.of(new PoolCapacity("two", 8, 80 * GI, 2, 0));
    List<Demand> demands = new ArrayList<>();
    for (int i = 0; i < 17; i++) {
      demands.add(
          Demand.of("ns/f" + String.format("%02d", i), 0, LONG_AGO.plusSeconds(i), 48 * GI, 1));
    }
    var plan = planner.plan(pool, demands, NOW);
    // 0.6 of a GPU each: one per GPU, 16 in all, although 6.4 GPUs stay free in slivers.
    assertThat(plan.pools().get("two").admitted()).hasSize(16);
    assertThat(plan.decisions().get("ns/f16").message())
        .isEqualTo("needs 0.6 x 80Gi GPUs in pool two; 6.4 free of 16");

    var halves =
        List.of(
            Demand.of("ns/a", 0, LONG_AGO, 4 * 80 * GI, 1).admitted("two", LONG_AGO),
            Demand.of("ns/b", 0, LONG_AGO.plusSeconds(1), 4 * 80 * GI, 1).admitted("two", LONG_AGO),
            Demand.of("ns/c", 0, LONG_AGO.plusSeconds(2), 100 * GI, 1).admitted("two", LONG_AGO));
    var eight = Demand.of("ns/eight", 0, NOW, 8 * 80 * GI, 1);
    var fragmented =
        planner.plan(pool, Stream.concat(halves.stream(), Stream.of(eight)).toList(), NOW);
    assertThat(fragmented.decisions().get("ns/eight").reason())
        .isEqualTo(Decision.INSUFFICIENT_CAPACITY);
  }

  @Test
  void aReplicaLargerThanANodeIsTooLargeAndSizeMustBeKnown() {
    var plan =
        planner.plan(
            List.of(A100),
            List.of(
                Demand.of("ns/huge", 0, NOW, 700 * GI, 1),
                new Demand(
                    "ns/unknown", 0, NOW, false, null, null, null, 1, null, null, null, null),
                Demand.of("ns/elsewhere", 0, NOW, GI, 1).inPool("h100")),
            NOW);
    assertThat(plan.decisions().get("ns/huge").reason()).isEqualTo(Decision.MODEL_TOO_LARGE);
    assertThat(plan.decisions().get("ns/huge").message())
        .isEqualTo(
            "one replica does not fit one node: pool a100 needs 9 GPUs on one node but has 8");
    assertThat(plan.decisions().get("ns/unknown").reason()).isEqualTo(Decision.SIZE_UNKNOWN);
    assertThat(plan.decisions().get("ns/unknown").message())
        .contains("spec.model.parameters or spec.model.sizeBytes");
    assertThat(plan.decisions().get("ns/elsewhere").reason()).isEqualTo(Decision.POOL_NOT_FOUND);
  }

  @Test
  void replicasAndExplicitGpusAndPoolSizing() {
    var pool = List.of(new PoolCapacity("a100", 8, 80 * GI, 4, 1));
    var plan = planner.plan(pool, List.of(Demand.of("ns/m", 0, NOW, GI, 3).withGpus(4.0)), NOW);
    var decision = plan.decisions().get("ns/m");
    assertThat(decision.gpusPerReplica()).isEqualTo(4.0);
    assertThat(decision.message()).isEqualTo("admitted to pool a100: 3 replicas x 4 x 80Gi GPUs");
    assertThat(plan.pools().get("a100").allocatedGpus()).isEqualTo(12.0);
    assertThat(plan.pools().get("a100").desiredNodes()).isEqualTo(2);
    assertThat(plan.pools().get("a100").allocatedMemoryBytes()).isEqualTo(3 * 4 * 80 * GI);
    assertThat(planner.plan(pool, List.of(), NOW).pools().get("a100").desiredNodes()).isEqualTo(1);
  }

  @Test
  void thePlanIsTheSameWhateverOrderTheObjectsArriveIn() {
    List<Demand> demands = new ArrayList<>();
    Random random = new Random(42);
    for (int i = 0; i < 40; i++) {
      demands.add(
          Demand.of(
              "ns/d" + i,
              random.nextInt(3),
              LONG_AGO.plusSeconds(random.nextInt(100)),
              (1 + random.nextInt(200)) * GI,
              1 + random.nextInt(2)));
    }
    var expected = planner.plan(List.of(A100, L4), demands, NOW);
    for (int round = 0; round < 10; round++) {
      List<Demand> shuffled = new ArrayList<>(demands);
      Collections.shuffle(shuffled, random);
      List<PoolCapacity> pools = new ArrayList<>(List.of(A100, L4));
      Collections.shuffle(pools, random);
      assertThat(planner.plan(pools, shuffled, NOW)).isEqualTo(expected);
    }
  }
}
