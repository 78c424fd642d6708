package io.ndif.operator.faults;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalCluster;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.OperatorCrds;
import io.ndif.operator.testing.PackagedOperator;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The API server, then etcd, stopped in the middle of a rollout and started again: the packaged
 * operator keeps running, its readiness says what is wrong while the API is away (its liveness does
 * not, so Kubernetes does not restart it into a crash loop), and it converges after.
 */
class ControlPlaneOutageIT {
  @org.junit.jupiter.api.extension.RegisterExtension
  static LocalClusterExtension cluster = new LocalClusterExtension();

  private static final int OUTAGE_SECONDS = Integer.getInteger("ndif.faults.outageSeconds", 20);
  private static FakeRayDashboard dashboard;
  private static PackagedOperator operator;
  private static int next;

  @BeforeAll
  static void start() throws Exception {
    OperatorCrds.install(cluster.client(), cluster.cluster().projectDir());
    dashboard = new FakeRayDashboard();
    cluster.createExternalCluster("steady", dashboard.url(), 2);
    operator = new PackagedOperator(cluster.cluster(), cluster.namespace());
    operator.start();
  }

  @AfterAll
  static void stop() {
    if (operator != null) {
      operator.close();
    }
    if (dashboard != null) {
      dashboard.close();
    }
  }

  @ParameterizedTest(name = "{0} away for a while")
  @ValueSource(strings = {"kube-apiserver", "etcd"})
  void theOperatorWaitsOutTheOutageAndConverges(String component) throws Exception {
    List<String> rollout = List.of("r" + next++, "r" + next++, "r" + next++);
    for (String name : rollout) {
      cluster.createDeployment(name, "steady", "model: {repoId: org/" + name + ", sizeBytes: 8Gi}");
    }
    control("stop", component);
    try {
      long until = System.nanoTime() + Duration.ofSeconds(OUTAGE_SECONDS).toNanos();
      boolean saidSo = false;
      while (System.nanoTime() < until) {
        assertThat(operator.isAlive()).as("the operator keeps running").isTrue();
        assertThat(operator.probe("live").code())
            .as("liveness while the API is away")
            .isEqualTo(200);
        var ready = operator.probe("ready");
        if (ready.code() == 503) {
          assertThat(ready.body()).startsWith("cannot watch the API server: ");
          saidSo = true;
        }
        Thread.sleep(1000);
      }
      if (component.equals("kube-apiserver")) {
        // Watches fail at once when the API server is gone (etcd's absence the API server hides
        // behind slow requests, which a short outage may not make fail).
        assertThat(saidSo).as("readiness says the API is away").isTrue();
      }
    } finally {
      control("start", component);
    }
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .ignoreExceptions()
        .untilAsserted(
            () -> {
              assertThat(operator.probe("ready").code()).isEqualTo(200);
              for (String name : rollout) {
                NdifDeployment d = cluster.deployment(name);
                assertThat(d.getStatus()).isNotNull();
                assertThat(d.getStatus().observedGeneration)
                    .isEqualTo(d.getMetadata().getGeneration());
                assertThat(d.getStatus().readyReplicas).as(name).isEqualTo(1);
              }
            });
    assertThat(operator.isAlive()).isTrue();
  }

  /** hack/local-cluster stop|start COMPONENT on the cluster the tests started. */
  private static void control(String verb, String component) {
    Path state =
        cluster
            .cluster()
            .stateDir()
            .orElseThrow(() -> new IllegalStateException("needs a cluster this run started"));
    var result =
        LocalCluster.exec(
            List.of("hack/local-cluster", verb, component),
            Map.of("NDIF_CLUSTER_DIR", state.toString()),
            cluster.cluster().projectDir(),
            120);
    assertThat(result.exitCode()).as(result.output()).isZero();
    if (verb.equals("start")) {
      await()
          .atMost(Duration.ofSeconds(90))
          .pollInterval(Duration.ofSeconds(1))
          .ignoreExceptions()
          .until(() -> cluster.client().namespaces().withName(cluster.namespace()).get() != null);
    }
  }
}
