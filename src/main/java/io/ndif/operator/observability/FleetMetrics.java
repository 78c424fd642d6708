package io.ndif.operator.observability;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.ndif.operator.api.NdifClusterStatus;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Domain metrics, set from each status the operator writes (so they follow observation, not
 * memory): GPUs and nodes per pool, pending GPU demand, whether each cluster's Ray dashboard
 * answers, deployments per Ready reason and the longest wait for admission, the Ray dashboard's
 * call latency and errors, and whether this process leads.
 *
 * <p>Objects are reconciled without finalizers, so no reconcile sees a deletion. Before each scrape
 * {@link #forgetDeleted()} drops the series of clusters and deployments that are no longer in the
 * operator's caches; a pool removed from a cluster's status is dropped when that status is set.
 */
public class FleetMetrics {
  private static final String DASHBOARD_UNREACHABLE = "DashboardUnreachable";
  private final MeterRegistry registry;
  private final Map<String, Map<String, ClusterGauge>> clusterGauges = new ConcurrentHashMap<>();
  private final Map<String, String> deploymentReasons = new ConcurrentHashMap<>();
  private final Set<String> countedReasons = ConcurrentHashMap.newKeySet();
  // When each deployment that is not admitted began to wait (its Scheduled condition's change).
  private final Map<String, Instant> waitingSince = new ConcurrentHashMap<>();
  private final AtomicInteger leader = new AtomicInteger();
  private final Clock clock;
  private volatile Supplier<Stream<? extends HasMetadata>> liveClusters;
  private volatile Supplier<Stream<? extends HasMetadata>> liveDeployments;

  private record ClusterGauge(Gauge gauge, AtomicReference<Double> value) {}

  public FleetMetrics(MeterRegistry registry) {
    this(registry, Clock.systemUTC());
  }

  public FleetMetrics(MeterRegistry registry, Clock clock) {
    this.registry = registry;
    this.clock = clock;
    Gauge.builder("ndif.operator.leader", leader, AtomicInteger::get)
        .description("1 while this process reconciles (holds the lease, or runs without election)")
        .register(registry);
    Gauge.builder("ndif.deployments.pending.longest", waitingSince, this::longestWaitSeconds)
        .description("Seconds the longest-waiting deployment has not been admitted (0: none)")
        .baseUnit("seconds")
        .register(registry);
  }

  public void leading(boolean value) {
    leader.set(value ? 1 : 0);
  }

  private double longestWaitSeconds(Map<String, Instant> since) {
    Instant now = clock.instant();
    return since.values().stream()
        .mapToDouble(t -> Math.max(0, Duration.between(t, now).toMillis() / 1000.0))
        .max()
        .orElse(0);
  }

  public MeterRegistry registry() {
    return registry;
  }

  /** The clusters that exist, as the operator's cache lists them. */
  public void liveClusters(Supplier<Stream<? extends HasMetadata>> clusters) {
    this.liveClusters = clusters;
  }

  /** The deployments that exist, as the operator's cache lists them. */
  public void liveDeployments(Supplier<Stream<? extends HasMetadata>> deployments) {
    this.liveDeployments = deployments;
  }

  public void cluster(String namespace, String name, NdifClusterStatus status) {
    Tags cluster = Tags.of("namespace", namespace, "cluster", name);
    var gauges =
        clusterGauges.computeIfAbsent(key(namespace, name), k -> new ConcurrentHashMap<>());
    Set<String> current = new HashSet<>();
    for (var pool : status.pools) {
      Tags tags = cluster.and("pool", pool.name);
      current.add(gauge(gauges, "ndif.pool.nodes.desired", tags, pool.desiredNodes));
      current.add(gauge(gauges, "ndif.pool.nodes.ready", tags, pool.readyNodes));
      current.add(gauge(gauges, "ndif.pool.gpus.ready", tags, pool.gpus));
      current.add(gauge(gauges, "ndif.pool.gpus.allocated", tags, pool.allocatedGpus));
    }
    if (status.totals != null) {
      current.add(gauge(gauges, "ndif.cluster.gpus.pending", cluster, status.totals.pendingGpus));
    }
    boolean unreachable =
        status.conditions.stream().anyMatch(c -> DASHBOARD_UNREACHABLE.equals(c.getReason()));
    current.add(gauge(gauges, "ndif.cluster.dashboard.reachable", cluster, unreachable ? 0 : 1));
    for (String gone : Set.copyOf(gauges.keySet())) {
      if (!current.contains(gone)) {
        registry.remove(gauges.remove(gone).gauge());
      }
    }
  }

  /**
   * Counts deployments by the reason of their Ready condition, counted when scraped; {@code
   * waitingSince} is when a deployment that is not admitted began to wait, or null.
   */
  public void deployment(String namespace, String name, String readyReason, Instant waitingSince) {
    String reason = readyReason == null ? "Unknown" : readyReason;
    String key = key(namespace, name);
    deploymentReasons.put(key, reason);
    if (waitingSince == null) {
      this.waitingSince.remove(key);
    } else {
      this.waitingSince.put(key, waitingSince);
    }
    if (countedReasons.add(reason)) {
      Gauge.builder(
              "ndif.deployments",
              deploymentReasons,
              reasons -> reasons.values().stream().filter(reason::equals).count())
          .tags("ready_reason", reason)
          .register(registry);
    }
  }

  public void dashboardCall(String method, boolean ok, Duration duration) {
    Timer.builder("ndif.serve.dashboard.requests")
        .tags("method", method, "outcome", ok ? "success" : "error")
        .register(registry)
        .record(duration);
  }

  /** Drops the series of clusters and deployments that no longer exist. */
  public void forgetDeleted() {
    var clusters = liveClusters;
    if (clusters != null) {
      Set<String> live = keys(clusters);
      for (String gone : Set.copyOf(clusterGauges.keySet())) {
        if (!live.contains(gone)) {
          clusterGauges.remove(gone).values().forEach(g -> registry.remove(g.gauge()));
        }
      }
    }
    var deployments = liveDeployments;
    if (deployments != null) {
      Set<String> live = keys(deployments);
      deploymentReasons.keySet().retainAll(live);
      waitingSince.keySet().retainAll(live);
    }
  }

  private String gauge(Map<String, ClusterGauge> gauges, String name, Tags tags, Number value) {
    String key = name + "|" + tags;
    var holder =
        gauges.computeIfAbsent(
            key,
            k -> {
              var ref = new AtomicReference<>(0.0);
              var gauge =
                  Gauge.builder(name, ref, AtomicReference::get).tags(tags).register(registry);
              return new ClusterGauge(gauge, ref);
            });
    holder.value().set(value == null ? 0.0 : value.doubleValue());
    return key;
  }

  private static Set<String> keys(Supplier<Stream<? extends HasMetadata>> objects) {
    return objects
        .get()
        .map(o -> key(o.getMetadata().getNamespace(), o.getMetadata().getName()))
        .collect(Collectors.toSet());
  }

  private static String key(String namespace, String name) {
    return namespace + "/" + name;
  }
}
