package io.ndif.operator.bench;

import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalCluster;
import io.ndif.operator.testing.OperatorCrds;
import io.ndif.operator.testing.PackagedOperator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;
import java.util.regex.Pattern;

/**
 * Cold adoption, restart and memory of the packaged operator at fleet scale, each beside its bare
 * bound in the same run.
 *
 * <ol>
 *   <li>N NdifDeployments over C adopted NdifClusters (fake dashboards) and P pods the operator's
 *       pod informer watches are created while no operator runs.
 *   <li>The packaged jar starts as its own process ({@code -Xmx256m}); the clock runs from its
 *       launch until every deployment has its final Scheduled decision and every dashboard holds
 *       the admitted applications. Writes are counted by the API server ({@code
 *       apiserver_request_total}, group ndif.io and Events), Serve config PUTs by the dashboards.
 *   <li>The operator is stopped and started again: the time until it is ready, then the writes and
 *       PUTs in the following window (target 0).
 *   <li>The bound: a bare client with as many threads as the operator's reconcile threads writes
 *       the same final statuses (one status write and one Event per deployment, one status write
 *       per cluster) to a copy of the objects in a namespace no operator watches.
 * </ol>
 *
 * <p>Usage: AdoptionBenchmark KUBECONFIG DEPLOYMENTS CLUSTERS PODS QUIET_SECONDS
 */
public final class AdoptionBenchmark {
  private static final int THREADS = 10;
  private static final Duration TIMEOUT = Duration.ofMinutes(10);
  private static final Pattern REQUEST_LINE =
      Pattern.compile("^apiserver_request_total\\{(.*)\\} ([0-9.e+]+)$", Pattern.MULTILINE);
  private static final Pattern LABEL = Pattern.compile("(\\w+)=\"([^\"]*)\"");

  public static void main(String[] args) throws Exception {
    Path kubeconfig = Path.of(args[0]);
    int deployments = Integer.parseInt(args[1]);
    int clusters = Integer.parseInt(args[2]);
    int pods = Integer.parseInt(args[3]);
    int quietSeconds = Integer.parseInt(args[4]);
    String run = Long.toString(System.currentTimeMillis() % 100000);
    String ns = "adopt-" + run;
    String bareNs = "bare-" + run;
    var client = LocalCluster.clientFor(kubeconfig);
    OperatorCrds.install(client, Path.of("."));
    for (String name : List.of(ns, bareNs)) {
      client
          .namespaces()
          .resource(new NamespaceBuilder().withNewMetadata().withName(name).endMetadata().build())
          .create();
    }

    List<FakeRayDashboard> dashboards = new ArrayList<>();
    for (int c = 0; c < clusters; c++) {
      dashboards.add(new FakeRayDashboard());
    }
    var pool = Executors.newFixedThreadPool(THREADS);
    for (String target : List.of(ns, bareNs)) {
      parallel(
          pool,
          clusters,
          c ->
              client
                  .resource(BenchFleet.cluster("c" + c, dashboards.get(c).url()))
                  .inNamespace(target)
                  .create());
      parallel(
          pool,
          deployments,
          i -> client.resource(BenchFleet.deployment(i, clusters)).inNamespace(target).create());
    }
    parallel(pool, pods, i -> client.pods().inNamespace(ns).resource(watchedPod(i)).create());

    var operator = new PackagedOperator(Path.of("."), kubeconfig, ns);
    var writesBefore = operatorWrites(client);
    long start = System.nanoTime();
    operator.launch();
    var memory = new MemorySampler(operator);
    long deadline = start + TIMEOUT.toNanos();
    long coldReady = 0;
    while (!BenchFleet.settled(client, ns, deployments, dashboards)) {
      if (coldReady == 0 && operator.probe("ready").code() == 200) {
        coldReady = System.nanoTime();
      }
      if (System.nanoTime() > deadline || !operator.isAlive()) {
        System.err.println(
            "adoption: not settled after " + TIMEOUT + "; the operator's log:\n" + operator.tail());
        System.exit(1);
      }
      memory.sample();
      Thread.sleep(500);
    }
    long settled = System.nanoTime();
    long writesAtSettle = total(difference(writesBefore, operatorWrites(client)));
    for (int s = 0; s < quietSeconds * 4; s++) {
      memory.sample();
      Thread.sleep(250);
    }
    // Events are written by threads of their own and may trail the last decision.
    var adoptionWrites = difference(writesBefore, operatorWrites(client));
    int adoptionPuts = dashboards.stream().mapToInt(FakeRayDashboard::puts).sum();
    var memoryAtScale = memory.report();

    operator.stop();
    var restartBefore = operatorWrites(client);
    int putsBefore = dashboards.stream().mapToInt(FakeRayDashboard::puts).sum();
    long restartStart = System.nanoTime();
    operator.launch();
    while (operator.probe("ready").code() != 200) {
      if (System.nanoTime() - restartStart > TIMEOUT.toNanos()) {
        System.err.println("adoption: not ready after a restart:\n" + operator.tail());
        System.exit(1);
      }
      Thread.sleep(100);
    }
    long ready = System.nanoTime();
    Thread.sleep(quietSeconds * 1000L);
    var restartWrites = difference(restartBefore, operatorWrites(client));
    int restartPuts = dashboards.stream().mapToInt(FakeRayDashboard::puts).sum() - putsBefore;
    operator.stop();

    long bareStart = System.nanoTime();
    bareWrites(client, pool, ns, bareNs, deployments, clusters);
    long bareEnd = System.nanoTime();

    double operatorSeconds = (settled - start) / 1e9;
    double bareSeconds = (bareEnd - bareStart) / 1e9;
    String report =
        String.format(
            "deployments=%d clusters=%d watched_pods=%d threads=%d%n"
                + "cold_adoption_seconds=%.1f (from the jar's launch, JVM start included; ready,"
                + " informers synced, after %.1f)%n"
                + "bare_bound_seconds=%.1f (status write + Event per deployment, status write per cluster)%n"
                + "ratio=%.2f%n"
                + "adoption_writes=%s (%d of them when settled)%n"
                + "adoption_writes_per_deployment=%.2f (status %.2f, events %.2f)%n"
                + "adoption_serve_puts=%d%n"
                + "%s%n"
                + "restart_ready_seconds=%.1f%n"
                + "restart_writes_in_%ds=%s restart_serve_puts=%d%n",
            deployments,
            clusters,
            pods,
            THREADS,
            operatorSeconds,
            coldReady == 0 ? Double.NaN : (coldReady - start) / 1e9,
            bareSeconds,
            operatorSeconds / bareSeconds,
            adoptionWrites,
            writesAtSettle,
            total(adoptionWrites) / (double) deployments,
            status(adoptionWrites) / (double) deployments,
            events(adoptionWrites) / (double) deployments,
            adoptionPuts,
            memoryAtScale,
            (ready - restartStart) / 1e9,
            quietSeconds,
            restartWrites,
            restartPuts);
    System.out.print(report);
    Files.writeString(Path.of("target", "bench-adoption-" + deployments + ".txt"), report);
    pool.shutdown();
    dashboards.forEach(FakeRayDashboard::close);
    client.namespaces().withName(ns).delete();
    client.namespaces().withName(bareNs).delete();
    System.exit(0);
  }

  /** The writes the decisions need, of the final statuses the operator wrote, in 10 threads. */
  private static void bareWrites(
      KubernetesClient client,
      ExecutorService pool,
      String from,
      String to,
      int deployments,
      int clusters)
      throws Exception {
    var decided = client.resources(NdifDeployment.class).inNamespace(from).list().getItems();
    var planned = client.resources(NdifCluster.class).inNamespace(from).list().getItems();
    parallel(
        pool,
        deployments,
        i -> {
          var source = decided.get(i);
          var copy =
              client
                  .resources(NdifDeployment.class)
                  .inNamespace(to)
                  .withName(source.getMetadata().getName())
                  .get();
          copy.setStatus(source.getStatus());
          client.resource(copy).updateStatus();
          client.v1().events().inNamespace(to).resource(event(copy)).create();
        });
    parallel(
        pool,
        clusters,
        c -> {
          var source = planned.get(c);
          var copy =
              client
                  .resources(NdifCluster.class)
                  .inNamespace(to)
                  .withName(source.getMetadata().getName())
                  .get();
          copy.setStatus(source.getStatus());
          client.resource(copy).updateStatus();
        });
  }

  private static io.fabric8.kubernetes.api.model.Event event(HasMetadata about) {
    String now = Instant.now().toString();
    return new EventBuilder()
        .withNewMetadata()
        .withGenerateName(about.getMetadata().getName() + ".")
        .endMetadata()
        .withInvolvedObject(
            new ObjectReferenceBuilder()
                .withApiVersion(about.getApiVersion())
                .withKind(about.getKind())
                .withName(about.getMetadata().getName())
                .withNamespace(about.getMetadata().getNamespace())
                .withUid(about.getMetadata().getUid())
                .build())
        .withType("Normal")
        .withReason("Scheduled")
        .withMessage("bare bound")
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withCount(1)
        .build();
  }

  private static void parallel(ExecutorService pool, int count, IntConsumer task) throws Exception {
    List<Future<?>> futures = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int index = i;
      futures.add(pool.submit(() -> task.accept(index)));
    }
    for (var future : futures) {
      future.get();
    }
  }

  /**
   * Write requests to the API server by "resource/subresource verb", for the operator's own kinds
   * and Events (the harness writes nothing while they are counted).
   */
  private static Map<String, Long> operatorWrites(KubernetesClient client) {
    String text = client.raw("/metrics");
    Map<String, Long> writes = new TreeMap<>();
    var lines = REQUEST_LINE.matcher(text);
    while (lines.find()) {
      Map<String, String> labels = new TreeMap<>();
      var label = LABEL.matcher(lines.group(1));
      while (label.find()) {
        labels.put(label.group(1), label.group(2));
      }
      String verb = labels.get("verb");
      boolean write = List.of("POST", "PUT", "PATCH", "APPLY", "DELETE").contains(verb);
      boolean ours =
          Constants.GROUP.equals(labels.get("group")) || "events".equals(labels.get("resource"));
      if (write && ours) {
        String key =
            labels.get("resource")
                + (labels.get("subresource").isEmpty() ? "" : "/" + labels.get("subresource"))
                + " "
                + verb;
        writes.merge(key, (long) Double.parseDouble(lines.group(2)), Long::sum);
      }
    }
    return writes;
  }

  private static Map<String, Long> difference(Map<String, Long> before, Map<String, Long> after) {
    Map<String, Long> delta = new TreeMap<>();
    after.forEach(
        (key, value) -> {
          long d = value - before.getOrDefault(key, 0L);
          if (d != 0) {
            delta.put(key, d);
          }
        });
    return delta;
  }

  private static long total(Map<String, Long> writes) {
    return writes.values().stream().mapToLong(Long::longValue).sum();
  }

  private static long events(Map<String, Long> writes) {
    return writes.entrySet().stream()
        .filter(e -> e.getKey().startsWith("events"))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  private static long status(Map<String, Long> writes) {
    return writes.entrySet().stream()
        .filter(e -> e.getKey().contains("/status"))
        .mapToLong(Map.Entry::getValue)
        .sum();
  }

  /** Peak RSS (the kernel's high-water mark), peak heap after sampling, and full collections. */
  private static final class MemorySampler {
    private static final Pattern HEAP =
        Pattern.compile(
            "^jvm_memory_used_bytes\\{[^}]*area=\"heap\"[^}]*\\} ([0-9.E+]+)$", Pattern.MULTILINE);
    private static final Pattern MAJOR_GC =
        Pattern.compile(
            "^jvm_gc_pause_seconds_count\\{[^}]*action=\"end of major GC\"[^}]*\\} ([0-9.E+]+)$",
            Pattern.MULTILINE);
    private static final Pattern MINOR_GC =
        Pattern.compile(
            "^jvm_gc_pause_seconds_count\\{[^}]*action=\"end of minor GC\"[^}]*\\} ([0-9.E+]+)$",
            Pattern.MULTILINE);
    private final PackagedOperator operator;
    private long peakHeap;
    private long peakRss;
    private String lastMetrics = "";

    MemorySampler(PackagedOperator operator) {
      this.operator = operator;
    }

    void sample() {
      peakRss = Math.max(peakRss, procStatus("VmHWM"));
      try {
        lastMetrics = operator.metrics();
      } catch (Exception e) {
        return;
      }
      peakHeap = Math.max(peakHeap, sum(HEAP, lastMetrics));
    }

    private long procStatus(String field) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc", operator.pid() + "", "status"))) {
          if (line.startsWith(field + ":")) {
            return Long.parseLong(line.replaceAll("\\D", "")) << 10;
          }
        }
      } catch (Exception e) {
        // the process is starting or gone
      }
      return 0;
    }

    String report() {
      return String.format(
          "peak_rss_mib=%d peak_heap_mib=%d (sampled every 250 ms) full_gcs=%d young_gcs=%d (-Xmx256m)",
          peakRss >> 20, peakHeap >> 20, sum(MAJOR_GC, lastMetrics), sum(MINOR_GC, lastMetrics));
    }

    private static long sum(Pattern pattern, String text) {
      long sum = 0;
      var m = pattern.matcher(text);
      while (m.find()) {
        sum += (long) Double.parseDouble(m.group(1));
      }
      return sum;
    }
  }

  /**
   * A pod the operator's informer watches (managed-by label) that belongs to no NdifCluster and
   * that no scheduler takes, so it only costs the operator its cache entry.
   */
  private static io.fabric8.kubernetes.api.model.Pod watchedPod(int i) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("watched-" + i)
        .addToLabels(Constants.LABEL_MANAGED_BY, Constants.OPERATOR_NAME)
        .addToLabels(Constants.LABEL_CLUSTER, "elsewhere-" + (i % 20))
        .addToLabels("ray.io/node-type", "worker")
        .endMetadata()
        .withNewSpec()
        .withSchedulerName("none")
        .addNewContainer()
        .withName("ray-worker")
        .withImage("rayproject/ray:2.60.0")
        .withNewResources()
        .addToLimits("nvidia.com/gpu", new io.fabric8.kubernetes.api.model.Quantity("8"))
        .endResources()
        .endContainer()
        .endSpec()
        .build();
  }
}
