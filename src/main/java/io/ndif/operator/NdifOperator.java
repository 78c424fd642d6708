package io.ndif.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import io.javaoperatorsdk.operator.monitoring.micrometer.MicrometerMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.ndif.operator.cluster.NdifClusterReconciler;
import io.ndif.operator.cluster.NodeLookup;
import io.ndif.operator.deployment.NdifDeploymentReconciler;
import io.ndif.operator.observability.EventRecorder;
import io.ndif.operator.observability.FleetMetrics;
import io.ndif.operator.observability.LogSetup;
import io.ndif.operator.observability.OperatorHttpServer;
import io.ndif.operator.observability.Tracing;
import io.ndif.operator.ray.ServeDashboard;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts the operator: both controllers on one JOSDK Operator. */
public final class NdifOperator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NdifOperator.class);

  private final Operator operator;
  private final NodeLookup nodes;
  private final OperatorHttpServer http;

  private final Tracing tracing;
  private final LeaderLease lease;

  private NdifOperator(
      Operator operator,
      NodeLookup nodes,
      OperatorHttpServer http,
      Tracing tracing,
      LeaderLease lease) {
    this.operator = operator;
    this.nodes = nodes;
    this.http = http;
    this.tracing = tracing;
    this.lease = lease;
  }

  /** Port of the metrics and probe server, or -1 when it is off. */
  public int metricsPort() {
    return http == null ? -1 : http.port();
  }

  public static NdifOperator start(KubernetesClient client, OperatorSettings settings) {
    return start(client, settings, Tracing.fromEnvironment(System.getenv()));
  }

  public static NdifOperator start(
      KubernetesClient client, OperatorSettings settings, Tracing tracing) {
    var clock = Clock.systemUTC();
    var nodes = new NodeLookup(client);
    var registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    var fleet = new FleetMetrics(registry);
    var lease =
        settings.leaderElectionNamespace() == null
            ? null
            : new LeaderLease(
                client, settings.leaderElectionNamespace(), identity(), fleet::leading);
    if (lease == null) {
      fleet.leading(true);
    }
    var operator =
        new Operator(
            o -> {
              o.withKubernetesClient(client)
                  .withCloseClientOnStop(false)
                  .withMetrics(MicrometerMetrics.withoutPerResourceMetrics(registry))
                  .withConcurrentReconciliationThreads(settings.reconcileThreads());
              if (lease != null) {
                o.withLeaderElectionConfiguration(lease.configuration());
              }
            });
    operator.register(
        new NdifClusterReconciler(
            nodes,
            new EventRecorder(client),
            clock,
            settings.minimumDeploymentTime(),
            new ServeDashboard(fleet, tracing, client),
            fleet,
            tracing,
            settings.dashboardAccess()),
        o -> watch(o, settings));
    operator.register(
        new NdifDeploymentReconciler(clock, new EventRecorder(client), fleet, tracing),
        o -> watch(o, settings));
    operator.start();
    log.info(
        "ndif-operator started; watching {}",
        settings.watchNamespaces().isEmpty() ? "all namespaces" : settings.watchNamespaces());
    OperatorHttpServer http = null;
    if (settings.metricsPort() >= 0) {
      try {
        http =
            new OperatorHttpServer(
                settings.metricsHost(),
                settings.metricsPort(),
                registry,
                operator.getRuntimeInfo(),
                fleet::forgetDeleted);
      } catch (java.io.IOException e) {
        if (lease != null) {
          lease.stopping();
        }
        operator.stop();
        throw new IllegalStateException(
            "cannot serve metrics on " + settings.metricsHost() + ":" + settings.metricsPort(), e);
      }
    }
    return new NdifOperator(operator, nodes, http, tracing, lease);
  }

  /** The pod's name in a cluster; elsewhere host and process, so two processes never share one. */
  private static String identity() {
    String pod = System.getenv("POD_NAME");
    if (pod != null && !pod.isBlank()) {
      return pod;
    }
    String host = System.getenv().getOrDefault("HOSTNAME", "localhost");
    return host + "-" + ProcessHandle.current().pid();
  }

  private static void watch(ControllerConfigurationOverrider<?> o, OperatorSettings settings) {
    if (!settings.watchNamespaces().isEmpty()) {
      o.settingNamespaces(settings.watchNamespaces());
    }
  }

  @Override
  public void close() {
    if (http != null) {
      http.close();
    }
    if (lease != null) {
      lease.stopping();
    }
    operator.stop();
    if (lease != null) {
      lease.release();
    }
    nodes.close();
    tracing.close();
    log.info("ndif-operator stopped");
  }

  public static void main(String[] args) {
    LogSetup.configure(System.getenv());
    OperatorSettings settings;
    try {
      settings = OperatorSettings.from(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("ndif-operator: " + e.getMessage());
      System.exit(2);
      return;
    }
    var client = new KubernetesClientBuilder().build();
    var running = start(client, settings);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  running.close();
                  client.close();
                }));
  }
}
