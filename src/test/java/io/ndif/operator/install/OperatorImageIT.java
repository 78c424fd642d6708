package io.ndif.operator.install;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.ndif.operator.observability.Conditions;
import io.ndif.operator.testing.FakeRayDashboard;
import io.ndif.operator.testing.LocalCluster;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.OperatorCrds;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The operator's image, built here by hack/image.sh (buildah, a local Debian base with a JRE, the
 * Dockerfile with JAR_FROM=context) and run with runc as a pod would run it: user 65532, a
 * read-only root filesystem, the kubeconfig mounted read-only; it reconciles an NdifCluster.
 */
class OperatorImageIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @Test
  void theImageRunsAsNonRootOnAReadOnlyRootAndReconcilesAnNdifCluster() throws Exception {
    Path project = cluster.cluster().projectDir();
    var build = LocalCluster.exec(List.of("hack/image.sh", "build"), Map.of(), project, 2400);
    assertThat(build.exitCode()).as(build.output()).isZero();
    String size = build.output().lines().reduce("", (a, b) -> b).trim();
    System.out.println("image: ndif-operator image size " + size);

    OperatorCrds.install(cluster.client(), project);
    int port;
    try (var socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    try (var dashboard = new FakeRayDashboard()) {
      cluster.createExternalCluster("imaged", dashboard.url(), 1);
      var run =
          LocalCluster.exec(
              List.of(
                  "hack/image.sh",
                  "run",
                  cluster.cluster().kubeconfig().toString(),
                  cluster.namespace(),
                  String.valueOf(port)),
              Map.of(),
              project,
              300);
      assertThat(run.exitCode()).as(run.output()).isZero();
      String id = run.output().lines().reduce("", (a, b) -> b).trim();
      // hack/image.sh says where the container's output goes: "... (log PATH)".
      var logLine = java.util.regex.Pattern.compile("\\(log (\\S+)\\)").matcher(run.output());
      Path containerLog = logLine.find() ? Path.of(logLine.group(1)) : null;
      try {
        String ready = "http://127.0.0.1:" + port + "/healthz/ready";
        await()
            .atMost(Duration.ofSeconds(120))
            .untilAsserted(
                () -> {
                  var status = cluster.ndifCluster("imaged").get().getStatus();
                  assertThat(status).as(log(containerLog)).isNotNull();
                  assertThat(Conditions.isTrue(status.conditions, "Ready")).isTrue();
                  assertThat(dashboard.puts()).as("Serve config PUTs").isPositive();
                  assertThat(
                          HTTP.send(
                                  HttpRequest.newBuilder(URI.create(ready)).build(),
                                  HttpResponse.BodyHandlers.discarding())
                              .statusCode())
                      .isEqualTo(200);
                });
        var whoami = exec(project, id, "id", "-u");
        assertThat(whoami.output().trim()).isEqualTo("65532");
        var write = exec(project, id, "touch", "/app/written");
        assertThat(write.exitCode()).isNotZero();
        assertThat(write.output()).contains("Read-only file system");
        var tmp = exec(project, id, "touch", "/tmp/written");
        assertThat(tmp.exitCode()).as("/tmp is a tmpfs: " + tmp.output()).isZero();
        var kubeconfig = exec(project, id, "touch", "/etc/ndif/kubeconfig");
        assertThat(kubeconfig.exitCode()).isNotZero();
      } finally {
        LocalCluster.exec(List.of("hack/image.sh", "stop", id), Map.of(), project, 60);
      }
    }
  }

  private static LocalCluster.Result exec(Path project, String id, String... command) {
    var args = new java.util.ArrayList<>(List.of("hack/image.sh", "exec", id));
    args.addAll(List.of(command));
    return LocalCluster.exec(args, Map.of(), project, 60);
  }

  private static String log(Path containerLog) {
    try {
      return containerLog != null && Files.exists(containerLog)
          ? Files.readString(containerLog)
          : "(no container log)";
    } catch (java.io.IOException e) {
      return e.toString();
    }
  }
}
