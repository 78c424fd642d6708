package io.ndif.operator;

import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The operator's configuration, from flags ({@code --watch-namespaces=a,b}) over environment
 * variables ({@code WATCH_NAMESPACES}).
 *
 * @param watchNamespaces namespaces to watch; empty means every namespace
 * @param reconcileThreads concurrent reconciles
 * @param minimumDeploymentTime how long an admitted deployment is safe from preemption
 * @param metricsHost address the metrics and probe server binds
 * @param metricsPort its port; 0 picks a free one, -1 turns it off
 * @param leaderElectionNamespace namespace of the leader election lease, or null for none
 * @param dashboardAccess how managed clusters' Ray dashboards are reached
 */
public record OperatorSettings(
    Set<String> watchNamespaces,
    int reconcileThreads,
    Duration minimumDeploymentTime,
    String metricsHost,
    int metricsPort,
    String leaderElectionNamespace,
    DashboardAccess dashboardAccess) {

  /** SERVICE: the head Service's in-cluster name; PROXY: the API server's service proxy. */
  public enum DashboardAccess {
    SERVICE,
    PROXY
  }

  public static final String LEASE_NAME = "ndif-operator-leader";
  public static final Duration DEFAULT_MINIMUM_DEPLOYMENT_TIME = Duration.ofHours(1);

  public OperatorSettings(Set<String> watchNamespaces, int reconcileThreads) {
    this(watchNamespaces, reconcileThreads, DEFAULT_MINIMUM_DEPLOYMENT_TIME);
  }

  /**
   * Settings for an operator embedded in tests: no metrics server; managed clusters' dashboards
   * through the API server's proxy, as for any operator outside its cluster (a Service's name
   * resolves nowhere on the host).
   */
  public OperatorSettings(
      Set<String> watchNamespaces, int reconcileThreads, Duration minimumDeploymentTime) {
    this(
        watchNamespaces,
        reconcileThreads,
        minimumDeploymentTime,
        "127.0.0.1",
        -1,
        null,
        DashboardAccess.PROXY);
  }

  public static OperatorSettings from(String[] args, Map<String, String> env) {
    String namespaces = value(args, env, "watch-namespaces", "WATCH_NAMESPACES", "");
    int reconcileThreads =
        number(
            value(args, env, "reconcile-threads", "RECONCILE_THREADS", "10"),
            "reconcile-threads",
            1);
    int minimumSeconds =
        number(
            value(
                args,
                env,
                "minimum-deployment-time-seconds",
                "NDIF_MINIMUM_DEPLOYMENT_TIME_SECONDS",
                Long.toString(DEFAULT_MINIMUM_DEPLOYMENT_TIME.toSeconds())),
            "minimum-deployment-time-seconds",
            0);
    int metricsPort =
        number(value(args, env, "metrics-port", "PROMETHEUS_PORT", "8080"), "metrics-port", -1);
    String metricsHost = value(args, env, "metrics-host", "METRICS_HOST", "0.0.0.0");
    String access = value(args, env, "dashboard-access", "DASHBOARD_ACCESS", "service").trim();
    DashboardAccess dashboardAccess;
    try {
      dashboardAccess = DashboardAccess.valueOf(access.toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          "dashboard-access must be service or proxy, got " + access);
    }
    String leaseNamespace =
        value(args, env, "leader-election-namespace", "LEADER_ELECTION_NAMESPACE", "").trim();
    return new OperatorSettings(
        Arrays.stream(namespaces.split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .collect(Collectors.toUnmodifiableSet()),
        reconcileThreads,
        Duration.ofSeconds(minimumSeconds),
        metricsHost,
        metricsPort,
        leaseNamespace.isEmpty() ? null : leaseNamespace,
        dashboardAccess);
  }

  private static int number(String text, String name, int min) {
    int value;
    try {
      value = Integer.parseInt(text.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number, got " + text);
    }
    if (value < min) {
      throw new IllegalArgumentException(name + " must be at least " + min + ", got " + text);
    }
    return value;
  }

  private static String value(
      String[] args, Map<String, String> env, String flag, String variable, String fallback) {
    String prefix = "--" + flag + "=";
    for (String arg : args) {
      if (arg.startsWith(prefix)) {
        return arg.substring(prefix.length());
      }
    }
    return env.getOrDefault(variable, fallback);
  }
}
