package io.ndif.operator.bench;

import io.ndif.operator.placement.Demand;
import io.ndif.operator.placement.Plan;
import io.ndif.operator.placement.Planner;
import io.ndif.operator.placement.PoolCapacity;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * The planner at fleet scale (JMH): one whole plan of {@code deployments} over {@code pools}, and
 * the incremental case, one deployment added to a cluster of 1,000 that was planned before (its
 * stored plan fed back, as every reconcile does). Run with {@code bench/planner.sh}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class PlannerBenchmark {
  private static final Instant NOW = Instant.parse("2026-12-02T12:00:00Z");
  private static final long GI = 1L << 30;

  @Param({"10000"})
  public int deployments;

  @Param({"100"})
  public int pools;

  private final Planner planner = new Planner(Duration.ofHours(1));
  private List<PoolCapacity> poolList;
  private List<Demand> demands;
  private List<PoolCapacity> thousandPools;
  private List<Demand> plannedThousandPlusOne;

  @Setup
  public void setUp() {
    Random random = new Random(7);
    poolList = pools(pools, random);
    demands = demands(deployments, pools, random);

    thousandPools = pools(10, random);
    List<Demand> thousand = demands(1000, 10, random);
    Plan first = planner.plan(thousandPools, thousand, NOW);
    plannedThousandPlusOne = new ArrayList<>();
    for (Demand d : thousand) {
      plannedThousandPlusOne.add(d.after(first.decisions().get(d.id()), NOW.minusSeconds(60)));
    }
    plannedThousandPlusOne.add(Demand.of("ns/new", 1, NOW, 20 * GI, 1));
  }

  @Benchmark
  public Plan wholePlan() {
    return planner.plan(poolList, demands, NOW);
  }

  @Benchmark
  public Plan oneAddedToAPlannedThousand() {
    return planner.plan(thousandPools, plannedThousandPlusOne, NOW);
  }

  private static List<PoolCapacity> pools(int count, Random random) {
    List<PoolCapacity> list = new ArrayList<>();
    long[] memories = {16 * GI, 24 * GI, 40 * GI, 80 * GI};
    for (int i = 0; i < count; i++) {
      list.add(
          new PoolCapacity(
              "pool-" + i,
              8,
              memories[random.nextInt(memories.length)],
              4 + random.nextInt(60),
              0));
    }
    return list;
  }

  private static List<Demand> demands(int count, int pools, Random random) {
    List<Demand> list = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      long size =
          random.nextInt(3) == 0 ? (1 + random.nextInt(400)) * GI : (1 + random.nextInt(16)) * GI;
      Demand d =
          Demand.of(
              "ns/d" + i, random.nextInt(4), NOW.minusSeconds(i), size, 1 + random.nextInt(3));
      if (random.nextInt(5) == 0) {
        d = d.inPool("pool-" + random.nextInt(pools));
      }
      if (random.nextInt(10) == 0) {
        d = d.pinned(true);
      }
      list.add(d);
    }
    return list;
  }
}
