package io.ndif.operator.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.Resource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.NdifOperator;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.Conditions;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Hands an integration test class the shared real cluster and a fresh namespace of its own, deleted
 * (and waited for, so capacity is free again) after the class.
 *
 * <pre>
 * {@code @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();}
 * </pre>
 */
public class LocalClusterExtension implements BeforeAllCallback, AfterAllCallback {
  private final java.util.function.Supplier<LocalCluster> which;
  private LocalCluster cluster;
  private String namespace;
  private boolean crdsInstalled;
  private final java.util.List<NdifOperator> operators = new java.util.ArrayList<>();

  /** The shared local cluster of kwok nodes. */
  public LocalClusterExtension() {
    this(LocalCluster::shared);
  }

  /** Another cluster, such as {@link LocalCluster#realNode()}. */
  public LocalClusterExtension(java.util.function.Supplier<LocalCluster> which) {
    this.which = which;
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    cluster = which.get();
    String base =
        context
            .getRequiredTestClass()
            .getSimpleName()
            .toLowerCase(Locale.ROOT)
            .replaceAll("[^a-z0-9]", "");
    namespace =
        base.substring(0, Math.min(base.length(), 40))
            + "-"
            + UUID.randomUUID().toString().substring(0, 6);
    client()
        .namespaces()
        .resource(
            new NamespaceBuilder().withNewMetadata().withName(namespace).endMetadata().build())
        .create();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    for (NdifOperator operator : operators) {
      try {
        operator.close();
      } catch (RuntimeException alreadyStopped) {
        // A test may have stopped it itself (to restart the operator).
      }
    }
    if (namespace != null) {
      client().namespaces().withName(namespace).delete();
      client()
          .namespaces()
          .withName(namespace)
          .waitUntilCondition(ns -> ns == null, 120, TimeUnit.SECONDS);
    }
  }

  public KubernetesClient client() {
    return cluster.client();
  }

  public LocalCluster cluster() {
    return cluster;
  }

  public String namespace() {
    return namespace;
  }

  /**
   * Installs the project's CRDs (once per class) and starts the operator in this JVM; it is stopped
   * after the class.
   */
  public NdifOperator startOperator(OperatorSettings settings) {
    if (!crdsInstalled) {
      OperatorCrds.install(client(), cluster.projectDir());
      crdsInstalled = true;
    }
    var operator = NdifOperator.start(client(), settings);
    operators.add(operator);
    return operator;
  }

  /**
   * Creates an NdifCluster that adopts the Ray cluster at {@code dashboardUrl}, with one pool of
   * {@code nodes} x 8 A100 80Gi GPUs for accounting, and its gateway on.
   */
  public void createExternalCluster(String name, String dashboardUrl, int nodes) {
    String yaml =
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifCluster
        metadata: {name: %s}
        spec:
          external: {dashboardUrl: "%s"}
          gateway: {auth: {keysFile: /etc/ndif/api-keys/keys.yaml}}
          pools:
          - {name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: %d}
        """
            .formatted(name, dashboardUrl, nodes);
    client()
        .resource(Serialization.unmarshal(yaml, NdifCluster.class))
        .inNamespace(namespace)
        .create();
  }

  /** Creates an NdifDeployment on {@code clusterRef} from YAML lines of its spec. */
  public void createDeployment(String name, String clusterRef, String specLines) {
    String yaml =
        "apiVersion: ndif.io/v1alpha1\nkind: NdifDeployment\nmetadata: {name: "
            + name
            + "}\nspec:\n  clusterRef: "
            + clusterRef
            + "\n"
            + specLines.lines().map(l -> "  " + l + "\n").reduce("", String::concat);
    client()
        .resource(Serialization.unmarshal(yaml, NdifDeployment.class))
        .inNamespace(namespace)
        .create();
  }

  public NdifDeployment deployment(String name) {
    return ndifDeployment(name).get();
  }

  /** Every Event of this class's namespace. */
  public List<io.fabric8.kubernetes.api.model.Event> events() {
    return client().v1().events().inNamespace(namespace).list().getItems();
  }

  /** The NdifDeployment {@code name} of this class's namespace. */
  public Resource<NdifDeployment> ndifDeployment(String name) {
    return client().resources(NdifDeployment.class).inNamespace(namespace).withName(name);
  }

  /** The NdifCluster {@code name} of this class's namespace. */
  public Resource<NdifCluster> ndifCluster(String name) {
    return client().resources(NdifCluster.class).inNamespace(namespace).withName(name);
  }

  /** As kubectl edit: on a conflict with the operator's status write, read again and retry. */
  public void editDeployment(String name, Consumer<NdifDeployment> change) {
    for (int attempt = 1; ; attempt++) {
      try {
        client()
            .resources(NdifDeployment.class)
            .inNamespace(namespace)
            .withName(name)
            .edit(
                d -> {
                  change.accept(d);
                  return d;
                });
        return;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (e.getCode() != 409 || attempt == 5) {
          throw e;
        }
      }
    }
  }

  /** Waits until the deployment is Ready with {@code replicas} running replicas. */
  public void awaitReady(String name, int replicas, Duration atMost) {
    await()
        .atMost(atMost)
        .pollInterval(Duration.ofSeconds(1))
        .untilAsserted(
            () -> {
              var status = deployment(name).getStatus();
              assertThat(status).isNotNull();
              assertThat(Conditions.isTrue(status.conditions, "Ready"))
                  .as("Ready: %s", Conditions.find(status.conditions, "Ready"))
                  .isTrue();
              assertThat(status.readyReplicas).isEqualTo(replicas);
            });
  }
}
