package io.ndif.operator.observability;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.ndif.operator.api.NdifClusterStatus;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Domain metrics, set from each status the operator writes (so they follow observation, not
 * memory): GPUs and nodes per pool, pending GPU demand, deployments per Ready reason, and the Ray
 * dashboard's call latency and errors.
 */
public class FleetMetrics {
  private final MeterRegistry registry;
  private final Map<String, AtomicReference<Double>> values = new ConcurrentHashMap<>();
  private final Map<String, String> deploymentReasons = new ConcurrentHashMap<>();
  private final java.util.Set<String> countedReasons = ConcurrentHashMap.newKeySet();

  public FleetMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  public MeterRegistry registry() {
    return registry;
  }

  public void cluster(String namespace, String name, NdifClusterStatus status) {
    Tags cluster = Tags.of("namespace", namespace, "cluster", name);
    for (var pool : status.pools) {
      Tags tags = cluster.and("pool", pool.name);
      gauge("ndif.pool.nodes.desired", tags, pool.desiredNodes);
      gauge("ndif.pool.nodes.ready", tags, pool.readyNodes);
      gauge("ndif.pool.gpus.ready", tags, pool.gpus);
      gauge("ndif.pool.gpus.allocated", tags, pool.allocatedGpus);
    }
    if (status.totals != null) {
      gauge("ndif.cluster.gpus.pending", cluster, status.totals.pendingGpus);
    }
  }

  /** Counts deployments by the reason of their Ready condition, counted when scraped. */
  public void deployment(String namespace, String name, String readyReason) {
    String reason = readyReason == null ? "Unknown" : readyReason;
    deploymentReasons.put(namespace + "/" + name, reason);
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

  private void gauge(String name, Tags tags, Number value) {
    String key = name + "|" + tags;
    var holder =
        values.computeIfAbsent(
            key,
            k -> {
              var ref = new AtomicReference<>(0.0);
              Gauge.builder(name, ref, r -> r.get()).tags(tags).register(registry);
              return ref;
            });
    holder.set(value == null ? 0.0 : value.doubleValue());
  }
}
