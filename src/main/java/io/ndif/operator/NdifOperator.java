package io.ndif.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.javaoperatorsdk.operator.Operator;
import io.javaoperatorsdk.operator.api.config.ControllerConfigurationOverrider;
import io.ndif.operator.cluster.NdifClusterReconciler;
import io.ndif.operator.cluster.NodeLookup;
import io.ndif.operator.deployment.NdifDeploymentReconciler;
import io.ndif.operator.observability.EventRecorder;
import io.ndif.operator.ray.ServeDashboard;
import java.time.Clock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Starts the operator: both controllers on one JOSDK Operator. */
public final class NdifOperator implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NdifOperator.class);

  private final Operator operator;
  private final NodeLookup nodes;

  private NdifOperator(Operator operator, NodeLookup nodes) {
    this.operator = operator;
    this.nodes = nodes;
  }

  public static NdifOperator start(KubernetesClient client, OperatorSettings settings) {
    var clock = Clock.systemUTC();
    var nodes = new NodeLookup(client);
    var operator =
        new Operator(
            o ->
                o.withKubernetesClient(client)
                    .withCloseClientOnStop(false)
                    .withConcurrentReconciliationThreads(settings.reconcileThreads()));
    operator.register(
        new NdifClusterReconciler(
            nodes,
            new EventRecorder(client),
            clock,
            settings.minimumDeploymentTime(),
            new ServeDashboard()),
        o -> watch(o, settings));
    operator.register(
        new NdifDeploymentReconciler(clock, new EventRecorder(client)), o -> watch(o, settings));
    operator.start();
    log.info(
        "ndif-operator started; watching {}",
        settings.watchNamespaces().isEmpty() ? "all namespaces" : settings.watchNamespaces());
    return new NdifOperator(operator, nodes);
  }

  private static void watch(ControllerConfigurationOverrider<?> o, OperatorSettings settings) {
    if (!settings.watchNamespaces().isEmpty()) {
      o.settingNamespaces(settings.watchNamespaces());
    }
  }

  @Override
  public void close() {
    operator.stop();
    nodes.close();
  }

  public static void main(String[] args) {
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
