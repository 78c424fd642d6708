package io.ndif.operator.placement;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;

/**
 * Decides which deployments run in which pool of one cluster. Pure and deterministic: the same
 * pools and demands give the same plan whatever their order, and what was admitted before stays
 * admitted unless a higher priority preempts it under the rules.
 */
public final class Planner {
  private static final Comparator<Demand> ADMISSION_ORDER =
      Comparator.comparingInt(Demand::priority)
          .reversed()
          .thenComparing(Demand::createdAt)
          .thenComparing(Demand::id);

  private final Duration minimumDeploymentTime;

  public Planner(Duration minimumDeploymentTime) {
    this.minimumDeploymentTime = minimumDeploymentTime;
  }

  public Plan plan(List<PoolCapacity> poolList, List<Demand> demandList, Instant now) {
    return plan(poolList, demandList, now, Map.of());
  }

  /**
   * @param warmPools by deployment id, the pools where a node keeps its model's weights in host
   *     memory: among the pools it fits, those come first
   */
  public Plan plan(
      List<PoolCapacity> poolList,
      List<Demand> demandList,
      Instant now,
      Map<String, Set<String>> warmPools) {
    Map<String, PoolLedger> ledgers = new LinkedHashMap<>();
    poolList.stream()
        .sorted(Comparator.comparing(PoolCapacity::name))
        .forEach(p -> ledgers.put(p.name(), new PoolLedger(p)));
    Map<String, Decision> decisions = new LinkedHashMap<>();
    Map<String, Demand> admitted = new LinkedHashMap<>();
    // The admitted deployments of each pool, where preemption looks for victims.
    Map<String, PoolAdmissions> admittedIn = new HashMap<>();
    Map<Shape, Ranking> rankings = new HashMap<>();
    List<Demand> demands = demandList.stream().sorted(ADMISSION_ORDER).toList();

    // What the previous plan admitted keeps its place while it still fits there.
    PriorityQueue<Demand> queue = new PriorityQueue<>(ADMISSION_ORDER);
    for (Demand d : demands) {
      PoolLedger ledger = d.admittedPool() == null ? null : ledgers.get(d.admittedPool());
      Double gpus = ledger == null ? null : gpusIn(d, ledger.pool).orElse(null);
      if (gpus != null
          && (d.pool() == null || d.pool().equals(d.admittedPool()))
          && ledger.place(d.id(), gpus, d.replicas())) {
        admitted.put(d.id(), d);
        admissions(admittedIn, ledger.pool.name()).add(d, gpus);
        decisions.put(d.id(), admit(d, ledger.pool, gpus));
      } else {
        queue.add(d);
      }
    }

    while (!queue.isEmpty()) {
      Demand d = queue.poll();
      Decision decision =
          decide(d, ledgers, rankings, admitted, admittedIn, decisions, queue, now, warmPools);
      decisions.put(d.id(), decision);
      if (decision.admitted()) {
        admitted.put(d.id(), d);
        admissions(admittedIn, decision.pool()).add(d, decision.gpusPerReplica());
      }
    }

    // A waiting deployment is told what is free once every admission is made, not what was free
    // when its turn came: the same world then reads the same on every pass.
    Map<String, Decision> ordered = new LinkedHashMap<>();
    for (Demand d : demands) {
      Decision decision = decisions.get(d.id());
      if (Decision.INSUFFICIENT_CAPACITY.equals(decision.reason())) {
        decision =
            new Decision(
                decision.id(),
                false,
                decision.pool(),
                decision.gpusPerReplica(),
                decision.reason(),
                insufficient(d, decision.gpusPerReplica(), ledgers.get(decision.pool())));
      }
      ordered.put(d.id(), decision);
    }
    return new Plan(ordered, summarize(ledgers, ordered, admitted));
  }

  private Decision decide(
      Demand d,
      Map<String, PoolLedger> ledgers,
      Map<Shape, Ranking> rankings,
      Map<String, Demand> admitted,
      Map<String, PoolAdmissions> admittedIn,
      Map<String, Decision> decisions,
      PriorityQueue<Demand> queue,
      Instant now,
      Map<String, Set<String>> warmPools) {
    if (d.sizeBytes() == null && d.gpus() == null) {
      return pending(
          d,
          null,
          null,
          Decision.SIZE_UNKNOWN,
          "the model's size is unknown: set spec.model.parameters or spec.model.sizeBytes");
    }
    List<PoolLedger> candidates;
    List<PoolLedger> fitting;
    if (d.pool() != null) {
      PoolLedger only = ledgers.get(d.pool());
      if (only == null) {
        return pending(
            d,
            d.pool(),
            null,
            Decision.POOL_NOT_FOUND,
            "pool "
                + d.pool()
                + " does not exist; pools are "
                + String.join(", ", ledgers.keySet()));
      }
      candidates = List.of(only);
      fitting = gpusIn(d, only.pool).isPresent() ? candidates : List.of();
    } else {
      Ranking ranking =
          rankings.computeIfAbsent(new Shape(d.sizeBytes(), d.gpus()), s -> rank(d, ledgers));
      candidates = ranking.candidates();
      fitting = preferWarm(ranking.fitting(), warmPools.getOrDefault(d.id(), Set.of()));
    }
    if (fitting.isEmpty()) {
      return pending(d, d.pool(), null, Decision.MODEL_TOO_LARGE, tooLarge(d, candidates));
    }
    for (PoolLedger ledger : fitting) {
      double gpus = gpusIn(d, ledger.pool).orElseThrow();
      if (ledger.place(d.id(), gpus, d.replicas())) {
        return admit(d, ledger.pool, gpus);
      }
    }
    for (PoolLedger ledger : fitting) {
      double gpus = gpusIn(d, ledger.pool).orElseThrow();
      Optional<List<Demand>> victims =
          preempt(d, gpus, ledger, admissions(admittedIn, ledger.pool.name()), now);
      if (victims.isPresent()) {
        for (Demand victim : victims.get()) {
          ledger.release(victim.id());
          admitted.remove(victim.id());
          admittedIn.get(ledger.pool.name()).remove(victim, gpus(victim, ledger.pool));
          decisions.remove(victim.id());
          queue.add(
              victim.wasPending(
                  Decision.PREEMPTED,
                  "preempted by "
                      + d.id()
                      + " (priority "
                      + d.priority()
                      + ") in pool "
                      + ledger.pool.name()));
        }
        ledger.place(d.id(), gpus, d.replicas());
        return admit(d, ledger.pool, gpus);
      }
    }
    PoolLedger best = fitting.get(0);
    double gpus = gpusIn(d, best.pool).orElseThrow();
    if (Decision.PREEMPTED.equals(d.pendingReason())) {
      return pending(d, best.pool.name(), gpus, Decision.PREEMPTED, d.pendingMessage());
    }
    return pending(
        d, best.pool.name(), gpus, Decision.INSUFFICIENT_CAPACITY, insufficient(d, gpus, best));
  }

  /** What decides a best-fit ranking of the pools: the model's size or its explicit GPUs. */
  private record Shape(Long sizeBytes, Double gpus) {}

  /** Every pool in best-fit order, and those where one replica fits one node. */
  private record Ranking(List<PoolLedger> candidates, List<PoolLedger> fitting) {}

  /**
   * Best fit: pools where one GPU holds a replica first, then by fewest and smallest GPUs. It
   * depends on the demand's shape only, so a plan ranks each shape once.
   */
  private static Ranking rank(Demand d, Map<String, PoolLedger> ledgers) {
    record Ranked(PoolLedger ledger, double gpus) {}
    List<PoolLedger> candidates =
        ledgers.values().stream()
            .map(l -> new Ranked(l, Math.max(1, wholeGpus(d, l.pool))))
            .sorted(
                Comparator.comparingDouble(Ranked::gpus)
                    .thenComparingLong(r -> r.ledger().pool.gpuMemoryBytes())
                    .thenComparing(r -> r.ledger().pool.name()))
            .map(Ranked::ledger)
            .toList();
    List<PoolLedger> fitting =
        candidates.stream().filter(l -> gpusIn(d, l.pool).isPresent()).toList();
    return new Ranking(candidates, fitting);
  }

  private static List<PoolLedger> preferWarm(List<PoolLedger> fitting, Set<String> warm) {
    if (warm.isEmpty()) {
      return fitting;
    }
    List<PoolLedger> ordered = new ArrayList<>();
    fitting.stream().filter(l -> warm.contains(l.pool.name())).forEach(ordered::add);
    fitting.stream().filter(l -> !warm.contains(l.pool.name())).forEach(ordered::add);
    return ordered;
  }

  private static PoolAdmissions admissions(Map<String, PoolAdmissions> admittedIn, String pool) {
    return admittedIn.computeIfAbsent(pool, k -> new PoolAdmissions());
  }

  /**
   * The deployments admitted to one pool, and the GPU units the unpinned ones hold by priority: an
   * upper bound on what preemption could free for a given priority, kept as admissions change.
   */
  private static final class PoolAdmissions {
    private final Map<String, Demand> byId = new HashMap<>();
    private final TreeMap<Integer, Long> unpinnedUnitsByPriority = new TreeMap<>();

    void add(Demand d, double gpusPerReplica) {
      byId.put(d.id(), d);
      if (!d.pinned()) {
        unpinnedUnitsByPriority.merge(
            d.priority(), PoolLedger.units(gpusPerReplica, d.replicas()), Long::sum);
      }
    }

    void remove(Demand d, double gpusPerReplica) {
      if (byId.remove(d.id()) != null && !d.pinned()) {
        unpinnedUnitsByPriority.merge(
            d.priority(), -PoolLedger.units(gpusPerReplica, d.replicas()), Long::sum);
      }
    }

    long unpinnedUnitsBelow(int priority) {
      long sum = 0;
      for (long units : unpinnedUnitsByPriority.headMap(priority, false).values()) {
        sum += units;
      }
      return sum;
    }

    Collection<Demand> all() {
      return byId.values();
    }
  }

  private static String insufficient(Demand d, double gpus, PoolLedger ledger) {
    return "needs "
        + replicas(d)
        + describeGpus(gpus, ledger.pool)
        + " in pool "
        + ledger.pool.name()
        + "; "
        + formatGpus(ledger.freeUnits() / (double) PoolLedger.UNITS)
        + " free of "
        + ledger.pool.gpus();
  }

  /**
   * The fewest admitted, evictable deployments of {@code ledger}'s pool whose release lets {@code
   * d} fit, if any: the largest first, released one by one on one trial ledger ({@code place}
   * changes nothing when it fails), so the search is linear in the pool's deployments.
   */
  private Optional<List<Demand>> preempt(
      Demand d, double gpus, PoolLedger ledger, PoolAdmissions inPool, Instant now) {
    if (ledger.freeUnits() + inPool.unpinnedUnitsBelow(d.priority())
        < PoolLedger.units(gpus, d.replicas())) {
      return Optional.empty();
    }
    record Victim(Demand demand, double units) {}
    List<Demand> evictable =
        inPool.all().stream()
            .filter(v -> v.priority() < d.priority() && !v.pinned())
            .filter(
                v ->
                    v.admittedAt() == null
                        || !v.admittedAt().plus(minimumDeploymentTime).isAfter(now))
            .map(v -> new Victim(v, demandUnits(v, ledger.pool)))
            .sorted(
                Comparator.comparingDouble((Victim v) -> -v.units())
                    .thenComparingInt(v -> v.demand().priority())
                    .thenComparing(v -> v.demand().createdAt(), Comparator.reverseOrder())
                    .thenComparing(v -> v.demand().id()))
            .map(Victim::demand)
            .toList();
    if (evictable.isEmpty()) {
      return Optional.empty();
    }
    PoolLedger trial = ledger.copy();
    for (int k = 1; k <= evictable.size(); k++) {
      trial.release(evictable.get(k - 1).id());
      if (trial.place(d.id(), gpus, d.replicas())) {
        return Optional.of(evictable.subList(0, k));
      }
    }
    return Optional.empty();
  }

  private static Decision admit(Demand d, PoolCapacity pool, double gpus) {
    return new Decision(
        d.id(),
        true,
        pool.name(),
        gpus,
        Decision.ADMITTED,
        "admitted to pool " + pool.name() + ": " + replicas(d) + describeGpus(gpus, pool));
  }

  private static Decision pending(
      Demand d, String pool, Double gpus, String reason, String message) {
    return new Decision(d.id(), false, pool, gpus, reason, message);
  }

  private static double wholeGpus(Demand d, PoolCapacity pool) {
    return Math.ceil(rawGpus(d, pool));
  }

  private static double rawGpus(Demand d, PoolCapacity pool) {
    return d.gpus() != null
        ? d.gpus()
        : ModelSizes.gpusPerReplica(d.sizeBytes(), pool.gpuMemoryBytes());
  }

  private static double demandUnits(Demand d, PoolCapacity pool) {
    return gpus(d, pool) * d.replicas();
  }

  /** GPUs one replica of an admitted {@code d} holds in {@code pool}. */
  private static double gpus(Demand d, PoolCapacity pool) {
    return gpusIn(d, pool).orElse(0.0);
  }

  /** GPUs one replica of {@code d} needs in {@code pool}, or empty if it cannot fit one node. */
  static Optional<Double> gpusIn(Demand d, PoolCapacity pool) {
    double gpus = rawGpus(d, pool);
    return gpus <= pool.gpusPerNode() ? Optional.of(gpus) : Optional.empty();
  }

  private static String tooLarge(Demand d, List<PoolLedger> candidates) {
    List<String> parts = new ArrayList<>();
    for (PoolLedger l : candidates) {
      double gpus = rawGpus(d, l.pool);
      parts.add(
          "pool "
              + l.pool.name()
              + " needs "
              + formatGpus(gpus)
              + " GPUs on one node but has "
              + l.pool.gpusPerNode());
    }
    return "one replica does not fit one node: " + String.join("; ", parts);
  }

  private static String replicas(Demand d) {
    return d.replicas() == 1 ? "" : d.replicas() + " replicas x ";
  }

  static String describeGpus(double gpus, PoolCapacity pool) {
    return formatGpus(gpus)
        + " x "
        + Bytes.format(pool.gpuMemoryBytes())
        + " GPU"
        + (gpus == 1 ? "" : "s");
  }

  static String formatGpus(double gpus) {
    return gpus == Math.rint(gpus)
        ? Long.toString((long) gpus)
        : Double.toString(Math.round(gpus * 100) / 100.0);
  }

  private static Map<String, Plan.PoolPlan> summarize(
      Map<String, PoolLedger> ledgers,
      Map<String, Decision> decisions,
      Map<String, Demand> admitted) {
    Map<String, List<Decision>> byPool = new HashMap<>();
    for (Decision decision : decisions.values()) {
      if (decision.pool() != null) {
        byPool.computeIfAbsent(decision.pool(), k -> new ArrayList<>()).add(decision);
      }
    }
    Map<String, Plan.PoolPlan> pools = new LinkedHashMap<>();
    ledgers.forEach(
        (name, ledger) -> {
          List<String> in = new ArrayList<>();
          List<String> waiting = new ArrayList<>();
          long memory = 0;
          for (Decision decision : byPool.getOrDefault(name, List.of())) {
            if (decision.admitted()) {
              in.add(decision.id());
              Demand d = admitted.get(decision.id());
              memory +=
                  (long) Math.ceil(decision.gpusPerReplica() * ledger.pool.gpuMemoryBytes())
                      * d.replicas();
            } else {
              waiting.add(decision.id());
            }
          }
          int desired =
              Math.max(ledger.pool.minNodes(), Math.min(ledger.pool.nodes(), ledger.nodesInUse()));
          pools.put(
              name,
              new Plan.PoolPlan(
                  name,
                  ledger.allocatedUnits() / (double) PoolLedger.UNITS,
                  memory,
                  desired,
                  in,
                  waiting));
        });
    return pools;
  }
}
