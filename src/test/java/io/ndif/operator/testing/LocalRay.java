package io.ndif.operator.testing;

import io.ndif.operator.testing.LocalCluster.Result;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A real Ray head with Ray Serve on 127.0.0.1, from PyPI: the one described by the env file named
 * in {@code NDIF_TEST_RAY_ENV} (what {@code hack/local-ray env} prints), or one started once per
 * test JVM with {@code hack/local-ray up} and stopped at exit.
 */
public final class LocalRay {
  public static final String ENV_FILE_ENV = "NDIF_TEST_RAY_ENV";
  private static final StartedOnce<LocalRay> SHARED = new StartedOnce<>(LocalRay::startOrConnect);

  private final Path projectDir;
  private final Map<String, String> env;

  private LocalRay(Path projectDir, Map<String, String> env) {
    this.projectDir = projectDir;
    this.env = env;
  }

  public static LocalRay shared() {
    return SHARED.get();
  }

  /**
   * The Ray environment of {@code hack/ray-env.sh} alone, with no head started: for running its
   * Python, or mounting it into pods.
   */
  public static LocalRay environmentOnly() {
    Path projectDir = Path.of(System.getProperty("ndif.projectDir", ".")).toAbsolutePath();
    var venv = LocalCluster.exec(List.of("hack/ray-env.sh", "--print"), Map.of(), projectDir, 1800);
    if (venv.exitCode() != 0) {
      throw new IllegalStateException("hack/ray-env.sh failed:\n" + venv.output());
    }
    String dir = venv.output().lines().reduce("", (a, b) -> b).trim();
    return new LocalRay(projectDir, Map.of("RAY_PYTHON", dir + "/bin/python"));
  }

  /** The environment's Python interpreter (a symlink in the virtual environment). */
  public Path pythonPath() {
    return Path.of(env.get("RAY_PYTHON"));
  }

  public String dashboardUrl() {
    return env.get("RAY_DASHBOARD_URL");
  }

  /** A variable of the head's env file (HF_HOME, HF_ENDPOINT, NDIF_TINY_MODEL, ...). */
  public String env(String name) {
    return env.get(name);
  }

  public String serveUrl() {
    return env.get("RAY_SERVE_URL");
  }

  /** The pool the Ray node advertises ({@code ndif_pool_<pool>}). */
  public String pool() {
    return env.get("RAY_POOL");
  }

  /** Runs the Ray environment's Python with the given arguments, from the project directory. */
  public Result python(int timeoutSeconds, String... args) {
    List<String> command = new ArrayList<>();
    command.add(env.get("RAY_PYTHON"));
    command.addAll(List.of(args));
    return LocalCluster.exec(command, Map.of("HF_HUB_OFFLINE", "1"), projectDir, timeoutSeconds);
  }

  /** A Python process of the Ray environment running in the background. */
  public Started start(String... args) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(env.get("RAY_PYTHON"));
    command.addAll(List.of(args));
    var builder =
        new ProcessBuilder(command).directory(projectDir.toFile()).redirectErrorStream(true);
    builder.environment().put("HF_HUB_OFFLINE", "1");
    Path log = Files.createTempFile("ray-python", ".log");
    builder.redirectOutput(log.toFile());
    return new Started(builder.start(), log);
  }

  public record Started(Process process, Path log) {
    public Result await(int timeoutSeconds) throws Exception {
      if (!process.waitFor(timeoutSeconds, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new IllegalStateException(
            "still running after " + timeoutSeconds + " s:\n" + Files.readString(log));
      }
      return new Result(process.exitValue(), Files.readString(log));
    }
  }

  private static LocalRay startOrConnect() {
    Path projectDir = Path.of(System.getProperty("ndif.projectDir", ".")).toAbsolutePath();
    String external = System.getenv(ENV_FILE_ENV);
    if (external != null && !external.isBlank()) {
      return new LocalRay(projectDir, EnvFile.read(Path.of(external)));
    }
    Path state = projectDir.resolve("target/it-local-ray");
    Map<String, String> env = Map.of("NDIF_RAY_DIR", state.toString());
    Result up;
    try {
      // The first call may create the virtual environment (several GB from PyPI).
      up = LocalCluster.exec(List.of("hack/local-ray", "up"), env, projectDir, 1800);
    } catch (IllegalStateException timedOut) {
      LocalCluster.exec(List.of("hack/local-ray", "down"), env, projectDir, 60);
      throw timedOut;
    }
    if (up.exitCode() != 0) {
      LocalCluster.exec(List.of("hack/local-ray", "down"), env, projectDir, 60);
      throw new IllegalStateException("hack/local-ray up failed:\n" + up.output());
    }
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> LocalCluster.exec(List.of("hack/local-ray", "down"), env, projectDir, 60)));
    return new LocalRay(projectDir, EnvFile.read(state.resolve("env")));
  }
}
