package io.ndif.operator.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.OperatorCrds;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Operator processes (the packaged jar) share a lease; the leader is killed (SIGKILL), then the
 * next one is stopped as Kubernetes stops a pod (SIGTERM), and each time another takes over. The
 * takeover times are measured and written to target/leader-takeover.txt.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeaderElectionIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final List<Process> processes = new ArrayList<>();
  private static final java.util.Map<Process, Integer> metricsPorts = new java.util.HashMap<>();

  @BeforeAll
  static void installCrds() {
    OperatorCrds.install(cluster.client(), cluster.cluster().projectDir());
  }

  @AfterAll
  static void stopAll() {
    processes.forEach(Process::destroyForcibly);
  }

  @Test
  @Order(1)
  void theFollowerTakesOverWhenTheLeaderDies() throws Exception {
    Path jar = cluster.cluster().projectDir().resolve("target/ndif-operator.jar");
    assertThat(jar)
        .as("the packaged operator (mvn package runs before the integration tests)")
        .exists();
    Process a = start(jar, "a");
    Process b = start(jar, "b");

    var lease =
        cluster
            .client()
            .leases()
            .inNamespace(cluster.namespace())
            .withName(OperatorSettings.LEASE_NAME);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> lease.get() != null && lease.get().getSpec().getHolderIdentity() != null);
    create("first");
    await().atMost(Duration.ofSeconds(60)).until(() -> ready("first"));

    String leader = lease.get().getSpec().getHolderIdentity();
    Process leading = leader.endsWith("-" + a.pid()) ? a : b;
    Process following = leading == a ? b : a;
    assertThat(leader).endsWith("-" + leading.pid());
    // Only the lease holder says it leads (what the NdifOperatorNotLeading alert reads).
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(leaderGauge(leading)).isEqualTo("1.0");
              assertThat(leaderGauge(following)).isEqualTo("0.0");
            });
    leading.destroyForcibly().waitFor();
    long killed = System.nanoTime();

    create("second");
    await().atMost(Duration.ofSeconds(90)).until(() -> ready("second"));
    double takeover = (System.nanoTime() - killed) / 1e9;
    Lease after = lease.get();
    assertThat(after.getSpec().getHolderIdentity()).endsWith("-" + following.pid());
    Files.writeString(
        cluster.cluster().projectDir().resolve("target/leader-takeover.txt"),
        String.format(
            "leader killed (SIGKILL) to first reconcile by the new leader: %.1f s%n", takeover));
    System.out.printf("leader takeover: %.1f s%n", takeover);

    // Nothing was done twice: one Ready event for the first cluster, one for the second. Events
    // are written by threads of their own, so the second may trail the status that awaited it.
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () ->
                assertThat(
                        cluster.events().stream()
                            .filter(e -> "Ready".equals(e.getReason()))
                            .map(e -> e.getInvolvedObject().getName())
                            .toList())
                    .containsExactlyInAnyOrder("first", "second"));
  }

  @Test
  @Order(2)
  void aLeaderStoppedWithSigtermExitsAndIsReplaced() throws Exception {
    Path jar = cluster.cluster().projectDir().resolve("target/ndif-operator.jar");
    Process leading = leader();
    Process next = start(jar, "c");
    Path nextLog = jar.getParent().resolve("leader-c.log");
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> Files.exists(nextLog) && Files.readString(nextLog).contains("started"));

    leading.destroy(); // SIGTERM, as the kubelet stops a container
    long stopped = System.nanoTime();
    assertThat(leading.waitFor(30, TimeUnit.SECONDS))
        .as("the operator exits within 30 s of SIGTERM")
        .isTrue();
    assertThat(leading.exitValue()).as("exit status after SIGTERM").isEqualTo(128 + 15);
    // Released as fabric8 releases: renewed now with one second left (the holder may stay named).
    var released = lease().get().getSpec();
    assertThat(
            !Objects.toString(released.getHolderIdentity(), "").endsWith("-" + leading.pid())
                || released.getLeaseDurationSeconds() == 1)
        .as("the stopped leader handed the lease over: %s", released)
        .isTrue();

    create("third");
    await().atMost(Duration.ofSeconds(90)).until(() -> ready("third"));
    double takeover = (System.nanoTime() - stopped) / 1e9;
    assertThat(lease().get().getSpec().getHolderIdentity()).endsWith("-" + next.pid());
    Files.writeString(
        jar.getParent().resolve("leader-takeover.txt"),
        String.format(
            "leader stopped (SIGTERM) to first reconcile by the new leader: %.1f s%n", takeover),
        java.nio.file.StandardOpenOption.APPEND);
    System.out.printf("leader takeover after SIGTERM: %.1f s%n", takeover);
  }

  @Test
  @Order(3)
  void aLeaderThatLosesTheLeaseWhileRunningExits() throws Exception {
    Process leading = leader();
    // Another identity takes the lease, as after a partition longer than the renew deadline.
    lease()
        .edit(
            l -> {
              l.getSpec().setHolderIdentity("elsewhere");
              l.getSpec().setLeaseDurationSeconds(300);
              l.getSpec().setRenewTime(java.time.ZonedDateTime.now());
              return l;
            });

    assertThat(leading.waitFor(60, TimeUnit.SECONDS))
        .as("the operator exits once it cannot renew the lease")
        .isTrue();
    assertThat(leading.exitValue()).as("exit status after losing the lease").isEqualTo(1);
  }

  /** The live process that holds the lease. */
  private static Process leader() {
    String holder = lease().get().getSpec().getHolderIdentity();
    return processes.stream()
        .filter(p -> p.isAlive() && holder.endsWith("-" + p.pid()))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no live process holds the lease: " + holder));
  }

  private static io.fabric8.kubernetes.client.dsl.Resource<Lease> lease() {
    return cluster
        .client()
        .leases()
        .inNamespace(cluster.namespace())
        .withName(OperatorSettings.LEASE_NAME);
  }

  private static Process start(Path jar, String name) throws Exception {
    var builder =
        new ProcessBuilder("java", "-jar", jar.toString())
            .redirectErrorStream(true)
            .redirectOutput(new File(jar.getParent().toFile(), "leader-" + name + ".log"));
    var env = builder.environment();
    env.put("KUBECONFIG", cluster.cluster().kubeconfig().toString());
    env.put("WATCH_NAMESPACES", cluster.namespace());
    env.put("LEADER_ELECTION_NAMESPACE", cluster.namespace());
    env.put("DASHBOARD_ACCESS", "proxy");
    int port;
    try (var socket = new java.net.ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    env.put("PROMETHEUS_PORT", String.valueOf(port));
    env.put("METRICS_HOST", "127.0.0.1");
    env.remove("POD_NAME");
    Process process = builder.start();
    processes.add(process);
    metricsPorts.put(process, port);
    return process;
  }

  /** The value of ndif_operator_leader on a process's /metrics. */
  private static String leaderGauge(Process process) throws Exception {
    String metrics =
        java.net.http.HttpClient.newHttpClient()
            .send(
                java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create(
                            "http://127.0.0.1:" + metricsPorts.get(process) + "/metrics"))
                    .build(),
                java.net.http.HttpResponse.BodyHandlers.ofString())
            .body();
    return metrics
        .lines()
        .filter(l -> l.startsWith("ndif_operator_leader"))
        .map(l -> l.substring(l.lastIndexOf(' ') + 1))
        .findFirst()
        .orElse("absent");
  }

  private static void create(String name) {
    cluster.createExternalCluster(name, "http://127.0.0.1:9", 1);
  }

  private static boolean ready(String name) {
    var c = cluster.ndifCluster(name).get();
    return c != null
        && c.getStatus() != null
        && c.getStatus().conditions.stream()
            .anyMatch(x -> x.getType().equals("Ready") && x.getStatus().equals("True"));
  }
}
