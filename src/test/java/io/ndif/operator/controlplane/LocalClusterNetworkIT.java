package io.ndif.operator.controlplane;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.ndif.operator.testing.LocalCluster;
import io.ndif.operator.testing.LocalClusterExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The local cluster lives in a network namespace of its own: its components dial the fake pods'
 * addresses there, where they fail at once, and only the API server's relay is on the host.
 */
class LocalClusterNetworkIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();

  private static final List<String> INSIDE =
      List.of(
          "etcd",
          "kube-apiserver",
          "api-relay-in",
          "kube-controller-manager",
          "kube-scheduler",
          "kwok",
          "ray-operator");
  private static Path state;

  @BeforeAll
  static void stateOfTheClusterThisRunStarted() {
    // A cluster named by NDIF_TEST_KUBECONFIG is someone else's: its network is not ours to check.
    state =
        cluster
            .cluster()
            .stateDir()
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "LocalClusterNetworkIT checks the cluster hack/local-cluster starts;"
                            + " unset "
                            + LocalCluster.KUBECONFIG_ENV));
  }

  @Test
  void everyComponentRunsInTheClustersNamespaceAndOnlyTheRelayOnTheHost() throws IOException {
    String host = netns("self");
    String inside = netns(pid("kube-apiserver"));
    assertThat(inside).isNotEqualTo(host);
    for (String component : INSIDE) {
      assertThat(netns(pid(component))).as(component).isEqualTo(inside);
    }
    assertThat(netns(pid("api-relay-out"))).isEqualTo(host);
  }

  @Test
  void theNamespaceHasOnlyLoopbackAndNoRouteOut() {
    var links = exec("ip", "-o", "link", "show");
    assertThat(links.output().lines().map(l -> l.split(":\\s+")[1]).toList()).containsExactly("lo");
    var routes = exec("sh", "-c", "ip -4 route show; ip -6 route show");
    assertThat(routes.output().lines().filter(l -> !l.isBlank()))
        .allSatisfy(route -> assertThat(route).contains("dev lo"));
  }

  @Test
  void aDialToAPodAddressFailsAtOnceInside() {
    var dial = exec("bash", "-c", "exec 3<>/dev/tcp/10.244.0.1/8265");
    assertThat(dial.exitCode()).isNotZero();
    assertThat(dial.output()).contains("Network is unreachable");
  }

  @Test
  void theApiServersProxyToAFakePodAnswersWithTheReasonAndNothingLeaves() {
    var client = cluster.client();
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("dashboard")
            .endMetadata()
            .withNewSpec()
            .withNodeSelector(Map.of("type", "kwok"))
            .addNewToleration()
            .withOperator("Exists")
            .endToleration()
            .addNewContainer()
            .withName("ray-head")
            .withImage("rayproject/ray:2.52.0")
            .endContainer()
            .endSpec()
            .build();
    client.pods().inNamespace(cluster.namespace()).resource(pod).create();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () -> {
              var seen = client.pods().inNamespace(cluster.namespace()).withName("dashboard").get();
              return seen.getStatus().getPodIP() != null
                  && "Running".equals(seen.getStatus().getPhase());
            });
    String podIp =
        client
            .pods()
            .inNamespace(cluster.namespace())
            .withName("dashboard")
            .get()
            .getStatus()
            .getPodIP();
    assertThat(podIp).startsWith("10.244.");

    String path =
        "/api/v1/namespaces/" + cluster.namespace() + "/pods/dashboard:8265/proxy/api/version";
    String body;
    try {
      body = client.raw(path);
    } catch (KubernetesClientException e) {
      body = e.getMessage();
    }
    assertThat(body).contains("dial tcp " + podIp + ":8265").contains("network is unreachable");
  }

  @Test
  void aSecondClusterInAnUnprivilegedNamespaceRunsBesideTheFirst() throws IOException {
    // What a laptop without root gets (forced here): a user and network namespace held by a
    // process of the cluster's own, beside the shared cluster, which keeps running.
    Path second = cluster.cluster().projectDir().resolve("target/it-local-cluster-userns");
    Map<String, String> env =
        Map.of("NDIF_CLUSTER_DIR", second.toString(), "NDIF_NETNS_MODE", "userns");
    Path project = cluster.cluster().projectDir();
    try {
      var up = LocalCluster.exec(List.of("hack/local-cluster", "up"), env, project, 180);
      assertThat(up.exitCode()).as(up.output()).isZero();
      String[] mode = Files.readString(second.resolve("netns")).trim().split(" ");
      assertThat(mode[0]).isEqualTo("userns");
      String holder = mode[1];
      assertThat(Files.readSymbolicLink(Path.of("/proc", holder, "ns", "user")))
          .isNotEqualTo(Files.readSymbolicLink(Path.of("/proc/self/ns/user")));
      String apiServer = Files.readString(second.resolve("kube-apiserver.pid")).trim();
      assertThat(netns(apiServer)).isEqualTo(netns(holder)).isNotEqualTo(netns("self"));
      assertThat(netns(apiServer)).isNotEqualTo(netns(pid("kube-apiserver")));
      try (var client = LocalCluster.clientFor(second.resolve("admin.kubeconfig"))) {
        await()
            .atMost(Duration.ofSeconds(60))
            .until(() -> !client.nodes().withLabel("type", "kwok").list().getItems().isEmpty());
      }
      var dial =
          LocalCluster.exec(
              List.of("hack/local-cluster", "exec", "bash", "-c", "exec 3<>/dev/tcp/10.244.0.1/80"),
              env,
              project,
              30);
      assertThat(dial.output()).contains("Network is unreachable");
      assertThat(cluster.client().namespaces().withName(cluster.namespace()).get()).isNotNull();
    } finally {
      var down = LocalCluster.exec(List.of("hack/local-cluster", "down"), env, project, 60);
      assertThat(down.exitCode()).as(down.output()).isZero();
    }
    assertThat(second.resolve("netns")).doesNotExist();
  }

  private static String netns(String pid) throws IOException {
    return Files.readSymbolicLink(Path.of("/proc", pid, "ns", "net")).toString();
  }

  private static String pid(String component) throws IOException {
    String pid = Files.readString(state.resolve(component + ".pid")).trim();
    assertThat(Path.of("/proc", pid)).as(component + " runs").exists();
    return pid;
  }

  private static LocalCluster.Result exec(String... command) {
    List<String> line = new ArrayList<>(List.of("hack/local-cluster", "exec"));
    line.addAll(List.of(command));
    return LocalCluster.exec(
        line, Map.of("NDIF_CLUSTER_DIR", state.toString()), cluster.cluster().projectDir(), 60);
  }
}
