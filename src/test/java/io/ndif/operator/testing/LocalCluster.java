package io.ndif.operator.testing;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * The real cluster integration tests run against: the one named by {@code NDIF_TEST_KUBECONFIG}, or
 * one started once per test JVM with {@code hack/local-cluster up} and stopped at exit. {@link
 * #realNode()} is a second cluster with one real node (kubelet, containerd, runc) where Ray pods
 * really run: the one named by {@code NDIF_TEST_REAL_NODE_KUBECONFIG}, or {@code hack/real-node
 * up}.
 */
public final class LocalCluster {
  static {
    // Objects are read inside awaits before the operator has written their status (a new
    // deployment's first status is its decision): a null there means "not yet", not a failure.
    Awaitility.ignoreExceptionsByDefault();
  }

  public static final String KUBECONFIG_ENV = "NDIF_TEST_KUBECONFIG";
  public static final String REAL_NODE_KUBECONFIG_ENV = "NDIF_TEST_REAL_NODE_KUBECONFIG";
  private static final StartedOnce<LocalCluster> SHARED =
      new StartedOnce<>(LocalCluster::startOrConnect);
  private static final StartedOnce<LocalCluster> REAL_NODE =
      new StartedOnce<>(LocalCluster::startOrConnectRealNode);

  private final Path projectDir;
  private final Path kubeconfig;
  private final Path binDir;
  private final Path stateDir;
  private final KubernetesClient client;

  private LocalCluster(Path projectDir, Path kubeconfig, Path binDir, Path stateDir) {
    this.projectDir = projectDir;
    this.kubeconfig = kubeconfig;
    this.binDir = binDir;
    this.stateDir = stateDir;
    this.client = clientFor(kubeconfig);
  }

  public static LocalCluster shared() {
    return SHARED.get();
  }

  /**
   * The cluster with a real node. A machine where the node cannot be made fails the test with the
   * script's reason (root, packages, the kernel); it is never skipped.
   */
  public static LocalCluster realNode() {
    return REAL_NODE.get();
  }

  public KubernetesClient client() {
    return client;
  }

  public Path kubeconfig() {
    return kubeconfig;
  }

  public Path projectDir() {
    return projectDir;
  }

  public Path binDir() {
    return binDir;
  }

  /** The state directory of a cluster this JVM started; empty for one named by a kubeconfig. */
  public java.util.Optional<Path> stateDir() {
    return java.util.Optional.ofNullable(stateDir);
  }

  public static KubernetesClient clientFor(Path kubeconfig) {
    try {
      String yaml = Files.readString(kubeconfig);
      return new KubernetesClientBuilder().withConfig(Config.fromKubeconfig(yaml)).build();
    } catch (IOException e) {
      throw new IllegalStateException("cannot read kubeconfig " + kubeconfig, e);
    }
  }

  /** Runs a command of the cluster's bin directory (kubectl, helm) with its kubeconfig. */
  public Result run(String binary, String... args) {
    List<String> command = new ArrayList<>();
    command.add(binDir.resolve(binary).toString());
    command.addAll(List.of(args));
    return exec(command, Map.of("KUBECONFIG", kubeconfig.toString()), projectDir, 120);
  }

  public record Result(int exitCode, String output) {}

  private static LocalCluster startOrConnect() {
    Path projectDir = Path.of(System.getProperty("ndif.projectDir", ".")).toAbsolutePath();
    Path binDir = binDir(projectDir);
    String external = System.getenv(KUBECONFIG_ENV);
    if (external != null && !external.isBlank()) {
      return new LocalCluster(projectDir, Path.of(external), binDir, null);
    }
    for (String binary :
        List.of(
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kubectl",
            "kwok",
            "ray-operator")) {
      if (!Files.isExecutable(binDir.resolve(binary))) {
        throw new IllegalStateException(
            "the local control plane is not built ("
                + binDir.resolve(binary)
                + " is missing); build it with: hack/build-controlplane.sh");
      }
    }
    Path state = projectDir.resolve("target/it-local-cluster");
    Map<String, String> env = Map.of("NDIF_CLUSTER_DIR", state.toString());
    // Ports are picked at random: a start that lost a port race is tried again with new ones.
    StringBuilder failures = new StringBuilder();
    for (int attempt = 1; ; attempt++) {
      Result up;
      try {
        up = exec(List.of("hack/local-cluster", "up"), env, projectDir, 180);
      } catch (IllegalStateException timedOut) {
        // Killing the script leaves what it started: stop that by PID before trying again.
        exec(List.of("hack/local-cluster", "down"), env, projectDir, 60);
        up = new Result(-1, timedOut.getMessage());
      }
      if (up.exitCode() == 0) {
        break;
      }
      failures.append("attempt ").append(attempt).append(":\n").append(up.output()).append('\n');
      if (attempt == 3) {
        throw new IllegalStateException("hack/local-cluster up failed 3 times:\n" + failures);
      }
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(() -> exec(List.of("hack/local-cluster", "down"), env, projectDir, 60)));
    return new LocalCluster(projectDir, state.resolve("admin.kubeconfig"), binDir, state);
  }

  private static LocalCluster startOrConnectRealNode() {
    Path projectDir = Path.of(System.getProperty("ndif.projectDir", ".")).toAbsolutePath();
    Path binDir = binDir(projectDir);
    String external = System.getenv(REAL_NODE_KUBECONFIG_ENV);
    if (external != null && !external.isBlank()) {
      return new LocalCluster(projectDir, Path.of(external), binDir, null);
    }
    Path state = projectDir.resolve("target/it-real-node");
    Map<String, String> env = Map.of("NDIF_REAL_NODE_DIR", state.toString());
    Result up;
    try {
      // The first call makes the Ray pods' image (a Debian root filesystem, about 2 minutes).
      up = exec(List.of("hack/real-node", "up"), env, projectDir, 900);
    } catch (IllegalStateException timedOut) {
      exec(List.of("hack/real-node", "down"), env, projectDir, 120);
      throw timedOut;
    }
    if (up.exitCode() != 0) {
      throw new IllegalStateException("hack/real-node up failed:\n" + up.output());
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(() -> exec(List.of("hack/real-node", "down"), env, projectDir, 120)));
    return new LocalCluster(projectDir, state.resolve("admin.kubeconfig"), binDir, state);
  }

  private static Path binDir(Path projectDir) {
    return Path.of(
        exec(List.of("hack/build-controlplane.sh", "--print"), Map.of(), projectDir, 30)
            .output()
            .trim());
  }

  public static Result exec(
      List<String> command, Map<String, String> env, Path dir, int timeoutSeconds) {
    try {
      Path out = Files.createTempFile("ndif-exec", ".log");
      var builder =
          new ProcessBuilder(command)
              .directory(dir.toFile())
              .redirectErrorStream(true)
              .redirectOutput(out.toFile());
      builder.environment().putAll(env);
      Process process = builder.start();
      if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(command + " did not finish in " + timeoutSeconds + " s");
      }
      String output = Files.readString(out, StandardCharsets.UTF_8);
      Files.deleteIfExists(out);
      return new Result(process.exitValue(), output);
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + command, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + command, e);
    }
  }
}
