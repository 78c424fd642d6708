package io.ndif.operator.bench;

import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.ndif.operator.NdifOperator;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.OperatorCrds;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Applies N NdifDeployments over C NdifClusters (adopted clusters whose dashboards are fakes) and
 * measures how long until every deployment has its final Scheduled decision and every cluster's
 * Serve config holds its admitted applications, the operator's API requests, a bare client loop
 * doing the same number of writes, writes during a steady-state window, and peak heap.
 *
 * <p>Usage: PlacementBenchmark KUBECONFIG DEPLOYMENTS CLUSTERS STEADY_SECONDS
 */
public final class PlacementBenchmark {
  private static final AtomicLong requests = new AtomicLong();
  private static final AtomicLong writes = new AtomicLong();
  private static final Map<String, AtomicLong> writesByKind = new ConcurrentHashMap<>();

  public static void main(String[] args) throws Exception {
    Path kubeconfig = Path.of(args[0]);
    int deployments = Integer.parseInt(args[1]);
    int clusters = Integer.parseInt(args[2]);
    int steadySeconds = Integer.parseInt(args[3]);
    String ns = "bench-" + System.currentTimeMillis() % 100000;

    var harness = client(kubeconfig, false);
    var counted = client(kubeconfig, true);
    OperatorCrds.install(harness, Path.of("."));
    harness
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .create();

    List<FakeRayDashboard> dashboards = new ArrayList<>();
    for (int c = 0; c < clusters; c++) {
      var dashboard = new FakeRayDashboard();
      dashboards.add(dashboard);
      harness.resource(BenchFleet.cluster("c" + c, dashboard.url())).inNamespace(ns).create();
    }
    var operator = NdifOperator.start(counted, new OperatorSettings(Set.of(ns), 10, Duration.ZERO));
    Thread.sleep(3000);
    long requestsBefore = requests.get();
    long writesBefore = writes.get();

    long start = System.nanoTime();
    for (int i = 0; i < deployments; i++) {
      harness.resource(BenchFleet.deployment(i, clusters)).inNamespace(ns).create();
    }
    long applied = System.nanoTime();
    while (!BenchFleet.settled(harness, ns, deployments, dashboards)) {
      Thread.sleep(200);
    }
    long done = System.nanoTime();
    long operatorRequests = requests.get() - requestsBefore;
    var rolloutWrites = new java.util.TreeMap<String, Long>();
    writesByKind.forEach((kind, count) -> rolloutWrites.put(kind, count.get()));
    long operatorWrites = writes.get() - writesBefore;

    // The lower bound: a bare client loop doing as many writes, one after another.
    long bareStart = System.nanoTime();
    for (long w = 0; w < operatorWrites; w++) {
      harness
          .configMaps()
          .inNamespace(ns)
          .resource(
              new ConfigMapBuilder()
                  .withNewMetadata()
                  .withName("bare-" + w)
                  .endMetadata()
                  .addToData("w", Long.toString(w))
                  .build())
          .create();
    }
    long bareEnd = System.nanoTime();

    long steadyWritesBefore = writes.get();
    long steadyRequestsBefore = requests.get();
    Thread.sleep(steadySeconds * 1000L);
    long steadyWrites = writes.get() - steadyWritesBefore;
    long steadyReads = requests.get() - steadyRequestsBefore - steadyWrites;

    long peakHeap =
        ManagementFactory.getMemoryPoolMXBeans().stream()
            .filter(p -> p.getType() == MemoryType.HEAP)
            .mapToLong(p -> p.getPeakUsage().getUsed())
            .sum();
    String report =
        String.format(
            "deployments=%d clusters=%d%n"
                + "apply_seconds=%.1f (harness creating the objects)%n"
                + "settled_seconds=%.1f (from the first create until every Scheduled decision and Serve config is final)%n"
                + "operator_requests=%d (%.1f per deployment), operator_writes=%d (%.1f per deployment)%n"
                + "operator_writes_by_kind=%s (since the operator started)%n"
                + "bare_loop_seconds_for_same_writes=%.1f%n"
                + "steady_state_seconds=%d steady_state_writes=%d steady_state_reads=%d%n"
                + "peak_heap_mib=%d (operator and harness in one JVM)%n",
            deployments,
            clusters,
            (applied - start) / 1e9,
            (done - start) / 1e9,
            operatorRequests,
            operatorRequests / (double) deployments,
            operatorWrites,
            operatorWrites / (double) deployments,
            rolloutWrites,
            (bareEnd - bareStart) / 1e9,
            steadySeconds,
            steadyWrites,
            steadyReads,
            peakHeap >> 20);
    System.out.print(report);
    Files.writeString(Path.of("target", "bench-" + deployments + ".txt"), report);
    operator.close();
    dashboards.forEach(FakeRayDashboard::close);
    harness.namespaces().withName(ns).delete();
    System.exit(0);
  }

  /** "events", "ndifdeployments/status", ...: the resource (and subresource) a write is to. */
  private static String kindOf(HttpRequest request) {
    String path = request.uri().getPath();
    for (String kind : List.of("events", "ndifdeployments", "ndifclusters")) {
      if (path.contains("/" + kind)) {
        return kind + (path.endsWith("/status") ? "/status" : "");
      }
    }
    return "other";
  }

  private static KubernetesClient client(Path kubeconfig, boolean count) throws Exception {
    var builder =
        new KubernetesClientBuilder()
            .withConfig(Config.fromKubeconfig(Files.readString(kubeconfig)));
    if (count) {
      builder.withHttpClientBuilderConsumer(
          b ->
              b.addOrReplaceInterceptor(
                  "count",
                  new Interceptor() {
                    @Override
                    public void before(
                        BasicBuilder builder, HttpRequest request, RequestTags tags) {
                      requests.incrementAndGet();
                      if (!"GET".equals(request.method())) {
                        writes.incrementAndGet();
                        writesByKind
                            .computeIfAbsent(kindOf(request), k -> new AtomicLong())
                            .incrementAndGet();
                      }
                    }
                  }));
    }
    return builder.build();
  }
}
