package io.ndif.operator.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.testing.LocalClusterExtension;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two operator processes (the packaged jar) share a lease; the leader is killed (SIGKILL) and the
 * other takes over. The takeover time is measured and written to target/leader-takeover.txt.
 */
class LeaderElectionIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final List<Process> processes = new ArrayList<>();

  @AfterAll
  static void stopAll() {
    processes.forEach(Process::destroyForcibly);
  }

  @Test
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

    // Nothing was done twice: one Ready event for the first cluster, one for the second.
    var readyEvents =
        cluster.client().v1().events().inNamespace(cluster.namespace()).list().getItems().stream()
            .filter(e -> "Ready".equals(e.getReason()))
            .map(e -> e.getInvolvedObject().getName())
            .toList();
    assertThat(readyEvents).containsExactlyInAnyOrder("first", "second");
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
    env.put("PROMETHEUS_PORT", "0");
    env.put("METRICS_HOST", "127.0.0.1");
    env.remove("POD_NAME");
    Process process = builder.start();
    processes.add(process);
    return process;
  }

  private static void create(String name) {
    cluster.createExternalCluster(name, "http://127.0.0.1:9", 1);
  }

  private static boolean ready(String name) {
    var c =
        cluster
            .client()
            .resources(NdifCluster.class)
            .inNamespace(cluster.namespace())
            .withName(name)
            .get();
    return c != null
        && c.getStatus() != null
        && c.getStatus().conditions.stream()
            .anyMatch(x -> x.getType().equals("Ready") && x.getStatus().equals("True"));
  }
}
