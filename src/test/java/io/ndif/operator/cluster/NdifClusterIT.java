package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.testing.LocalClusterExtension;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/** NdifCluster on the real control plane: KubeRay makes pods, kwok runs them on fake GPU nodes. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NdifClusterIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();

  private static final String FLEET =
      """
      apiVersion: ndif.io/v1alpha1
      kind: NdifCluster
      metadata: {name: fleet}
      spec:
        rayVersion: "2.52.0"
        autoscaling: {mode: Disabled}
        head:
          resources: {requests: {cpu: "1", memory: 2Gi}}
        pools:
        - name: a100
          gpusPerNode: 8
          gpuMemory: 80Gi
          gpuProduct: NVIDIA-A100-SXM4-80GB
          nodes: 2
          maxNodes: 2
          tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
        - name: l4
          gpusPerNode: 8
          gpuMemory: 24Gi
          gpuProduct: NVIDIA-L4
          nodes: 1
          maxNodes: 2
          tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
      """;

  @BeforeAll
  static void startOperator() {
    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 4));
  }

  @Test
  @Order(1)
  void becomesReadyWithEveryNodeAndItsGpus() {
    cluster
        .client()
        .resource(Serialization.unmarshal(FLEET, NdifCluster.class))
        .inNamespace(cluster.namespace())
        .create();
    var ready = awaitReady("3/3");
    var status = ready.getStatus();
    assertThat(status.rayClusterName).isEqualTo("fleet");
    assertThat(status.head.ready).isTrue();
    assertThat(status.head.podIP).isNotBlank();
    assertThat(status.totals.gpus).isEqualTo(24);
    assertThat(status.nodes).hasSize(3);
    assertThat(status.nodes)
        .allSatisfy(
            n -> {
              assertThat(n.nodeName).startsWith("kwok-" + n.pool + "-");
              assertThat(n.gpus).isEqualTo(8);
              assertThat(n.ready).isTrue();
              assertThat(n.podIP).isNotBlank();
            });
    assertThat(
            status.nodes.stream()
                .filter(n -> n.pool.equals("a100"))
                .map(n -> n.nodeName)
                .distinct())
        .hasSize(2);
    assertThat(status.nodes.stream().filter(n -> n.pool.equals("a100")))
        .allMatch(n -> n.gpuProduct.equals("NVIDIA-A100-SXM4-80GB"));
    assertThat(status.nodes.stream().filter(n -> n.pool.equals("l4")))
        .allMatch(n -> n.gpuProduct.equals("NVIDIA-L4"));

    var rayCluster = rayCluster();
    assertThat(rayCluster.getMetadata().getOwnerReferences())
        .anyMatch(o -> o.getKind().equals("NdifCluster"));
    assertThat(eventReasons()).contains("RayClusterCreated", "Ready");

    var table = cluster.cluster().run("kubectl", "get", "ndc", "-n", cluster.namespace());
    assertThat(table.output())
        .contains("READY", "NODES", "GPUS")
        .contains("fleet")
        .contains("3/3")
        .contains("24");

    // The NDIF gateway: KubeRay's serve Service is its address, the key Secret is in every pod.
    String url = "http://fleet-serve-svc." + cluster.namespace() + ".svc:8000";
    assertThat(status.gateway.url).isEqualTo(url);
    assertThat(status.gateway.auth).isEqualTo("ApiKeys");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var service =
                  cluster
                      .client()
                      .services()
                      .inNamespace(cluster.namespace())
                      .withName("fleet-serve-svc")
                      .get();
              assertThat(service).as("KubeRay's serve Service").isNotNull();
              assertThat(service.getSpec().getPorts()).anyMatch(p -> p.getPort() == 8000);
            });
    var pods =
        cluster
            .client()
            .pods()
            .inNamespace(cluster.namespace())
            .withLabel("ray.io/cluster", "fleet")
            .list()
            .getItems();
    // The API keys only on the head, where the gateway runs; never on a worker.
    java.util.function.Predicate<io.fabric8.kubernetes.api.model.Pod> hasKeys =
        pod ->
            pod.getSpec().getVolumes().stream()
                .anyMatch(
                    v ->
                        v.getSecret() != null
                            && "fleet-api-keys".equals(v.getSecret().getSecretName()));
    assertThat(pods)
        .isNotEmpty()
        .allSatisfy(
            pod ->
                assertThat(hasKeys.test(pod))
                    .as(pod.getMetadata().getName())
                    .isEqualTo(
                        "head".equals(pod.getMetadata().getLabels().get("ray.io/node-type"))));
    var wide =
        cluster.cluster().run("kubectl", "get", "ndc", "-o", "wide", "-n", cluster.namespace());
    assertThat(wide.output()).contains("NDIF_HOST").contains(url);

    // The fake head runs no Ray, and its address exists only in the cluster's own network
    // namespace: the API server's proxy fails at once there, with the reason in the condition.
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var serve =
                  Conditions.find(get().getStatus().conditions, "ServeConfigApplied").orElseThrow();
              assertThat(serve.getStatus()).isEqualTo("False");
              assertThat(serve.getReason()).isEqualTo("DashboardUnreachable");
              assertThat(serve.getMessage())
                  .contains("answered 503")
                  .contains(
                      "dial tcp " + status.head.podIP + ":8265: connect: network is unreachable");
            });
  }

  @Test
  @Order(2)
  void steadyStateWritesNothing() throws InterruptedException {
    awaitQuiet();
    var before = get().getMetadata().getResourceVersion();
    var rayBefore = ourApply(rayCluster());
    // A pod event triggers reconciles without any change to the world the status describes.
    var pod =
        cluster
            .client()
            .pods()
            .inNamespace(cluster.namespace())
            .withLabel("ray.io/node-type", "worker")
            .list()
            .getItems()
            .get(0);
    cluster
        .client()
        .pods()
        .resource(pod)
        .edit(
            p -> {
              p.getMetadata().getLabels().put("example.com/nudge", "1");
              return p;
            });
    Thread.sleep(8000);
    assertThat(get().getMetadata().getResourceVersion()).isEqualTo(before);
    // KubeRay writes the RayCluster's status on pod events; the operator's own apply must not move.
    assertThat(ourApply(rayCluster())).isEqualTo(rayBefore);
  }

  private static String ourApply(GenericKubernetesResource resource) {
    return resource.getMetadata().getManagedFields().stream()
        .filter(f -> "ndif-operator".equals(f.getManager()) && "Apply".equals(f.getOperation()))
        .map(f -> f.getTime() + " " + f.getFieldsV1().getAdditionalProperties())
        .findFirst()
        .orElseThrow();
  }

  /** Waits until the NdifCluster has not changed for five seconds. */
  private static void awaitQuiet() throws InterruptedException {
    String last = get().getMetadata().getResourceVersion();
    for (int quiet = 0; quiet < 5; ) {
      Thread.sleep(1000);
      String now = get().getMetadata().getResourceVersion();
      quiet = now.equals(last) ? quiet + 1 : 0;
      last = now;
    }
  }

  @Test
  @Order(3)
  void scalingAPoolChangesTheRayClusterInPlace() {
    String uid = rayCluster().getMetadata().getUid();
    edit(c -> c.getSpec().pools.get(1).nodes = 2);
    awaitReady("4/4");
    assertThat(rayCluster().getMetadata().getUid()).isEqualTo(uid);
    assertThat(workerGroup("l4")).containsEntry("replicas", 2);
    assertThat(get().getStatus().pools.get(1).desiredNodes).isEqualTo(2);

    edit(c -> c.getSpec().pools.get(0).nodes = 1);
    var status = awaitReady("3/3").getStatus();
    await().atMost(Duration.ofSeconds(60)).until(() -> get().getStatus().nodes.size() == 3);
    assertThat(status.pools)
        .extracting(p -> p.name + "=" + p.readyNodes)
        .containsExactly("a100=1", "l4=2");
    assertThat(rayCluster().getMetadata().getUid()).isEqualTo(uid);
    assertThat(eventReasons()).contains("PoolScaled");
  }

  @Test
  @Order(3)
  void aNetworkPolicyIsMadeWhenAskedForAndRemovedWhenNot() {
    var policies =
        cluster.client().network().v1().networkPolicies().inNamespace(cluster.namespace());
    assertThat(policies.withName("fleet-ray").get()).isNull();
    edit(
        c ->
            c.getSpec().networkPolicy =
                io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
                    "enabled: true\n" + "dashboardFrom: [{ipBlock: {cidr: 127.0.0.1/32}}]\n",
                    io.ndif.operator.api.NetworkPolicySpec.class));
    var made =
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> policies.withName("fleet-ray").get(), java.util.Objects::nonNull);
    assertThat(made.getSpec().getPodSelector().getMatchLabels())
        .containsEntry("ndif.io/cluster", "fleet");
    assertThat(made.getSpec().getIngress()).hasSize(3);
    assertThat(made.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(o -> assertThat(o.getKind()).isEqualTo("NdifCluster"));

    edit(c -> c.getSpec().networkPolicy.enabled = false);
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> policies.withName("fleet-ray").get() == null);
  }

  @Test
  @Order(3)
  void theGatewaysOwnPortHasAServiceAndItsOwnWorkersAGroupWhenAskedFor() {
    var services = cluster.client().services().inNamespace(cluster.namespace());
    var service =
        await()
            .atMost(Duration.ofSeconds(30))
            .until(() -> services.withName("fleet-gateway").get(), java.util.Objects::nonNull);
    assertThat(service.getSpec().getSelector())
        .containsExactlyInAnyOrderEntriesOf(
            Map.of("ndif.io/cluster", "fleet", "ndif.io/gateway-host", "true"));
    assertThat(service.getSpec().getPorts())
        .singleElement()
        .satisfies(p -> assertThat(p.getPort()).isEqualTo(8001));
    assertThat(service.getMetadata().getOwnerReferences())
        .singleElement()
        .satisfies(o -> assertThat(o.getKind()).isEqualTo("NdifCluster"));
    assertThat(get().getStatus().gateway.directUrl)
        .isEqualTo("http://fleet-gateway." + cluster.namespace() + ".svc:8001");

    edit(
        c ->
            c.getSpec().gateway =
                io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
                    "placement: Workers\ndirectPort: 9100\n", GatewaySpec.class));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              assertThat(workerGroup("ndif-gateway"))
                  .containsEntry("replicas", 1)
                  .containsEntry("maxReplicas", 1);
              assertThat(services.withName("fleet-gateway").get().getSpec().getPorts())
                  .singleElement()
                  .satisfies(p -> assertThat(p.getPort()).isEqualTo(9100));
            });
    @SuppressWarnings("unchecked")
    var head =
        (Map<String, Object>)
            ((Map<String, Object>) rayCluster().getAdditionalProperties().get("spec"))
                .get("headGroupSpec");
    assertThat(String.valueOf(head.get("rayStartParams"))).doesNotContain("ndif_gateway");

    edit(c -> c.getSpec().gateway = null);
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var gatewayGroup = workerGroups().get("ndif-gateway");
              assertThat(
                      gatewayGroup == null
                          || Integer.valueOf(0).equals(gatewayGroup.get("replicas")))
                  .as("the gateway group is gone or draining: %s", gatewayGroup)
                  .isTrue();
              assertThat(
                      services
                          .withName("fleet-gateway")
                          .get()
                          .getSpec()
                          .getPorts()
                          .get(0)
                          .getPort())
                  .isEqualTo(8001);
            });
    edit(
        c ->
            c.getSpec().gateway =
                io.fabric8.kubernetes.client.utils.Serialization.unmarshal(
                    "directPort: 0\n", GatewaySpec.class));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> services.withName("fleet-gateway").get() == null);
    edit(c -> c.getSpec().gateway = null);
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                cluster
                    .client()
                    .pods()
                    .inNamespace(cluster.namespace())
                    .withLabel("ndif.io/pool", "ndif-gateway")
                    .list()
                    .getItems()
                    .isEmpty());
  }

  @Test
  @Order(4)
  void aPoolNoNodeCanHoldIsDegradedNamingThePool() {
    edit(
        c -> {
          var pool = new io.ndif.operator.api.PoolSpec();
          pool.name = "h100";
          pool.gpusPerNode = 8;
          pool.gpuMemory = "80Gi";
          pool.gpuProduct = "NVIDIA-H100-80GB-HBM3";
          pool.nodes = 1;
          pool.tolerations = c.getSpec().pools.get(0).tolerations;
          c.getSpec().pools.add(pool);
        });
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () -> {
              var degraded =
                  Conditions.find(get().getStatus().conditions, "Degraded").orElseThrow();
              assertThat(degraded.getStatus()).isEqualTo("True");
              assertThat(degraded.getReason()).isEqualTo("PoolUnschedulable");
              assertThat(degraded.getMessage()).startsWith("pool h100:").contains("node");
            });
    assertThat(Conditions.isTrue(get().getStatus().conditions, "Ready")).isFalse();
    assertThat(eventReasons()).contains("PoolUnschedulable");

    edit(c -> c.getSpec().pools.removeIf(p -> p.name.equals("h100")));
    awaitReady("3/3");
    assertThat(Conditions.isTrue(get().getStatus().conditions, "Degraded")).isFalse();
  }

  @Test
  @Order(4)
  void aConflictingTemplateOverrideLeavesTheRayClusterAsItIsUntilFixed() {
    // The pods KubeRay made run the production template: metrics port, cache, memory limit.
    var worker =
        cluster
            .client()
            .pods()
            .inNamespace(cluster.namespace())
            .withLabel("ndif.io/pool", "l4")
            .list()
            .getItems()
            .get(0)
            .getSpec()
            .getContainers()
            .get(0);
    assertThat(worker.getPorts()).anyMatch(p -> "metrics".equals(p.getName()));
    assertThat(worker.getEnv()).anyMatch(e -> e.getName().equals("HF_HOME"));
    assertThat(worker.getResources().getLimits()).containsKey("memory");

    String version = rayCluster().getMetadata().getResourceVersion();
    edit(
        c ->
            c.getSpec().pools.get(1).template =
                Map.of(
                    "spec",
                    Map.of(
                        "containers", List.of(Map.of("name", "ray-worker", "image", "mine:1")))));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              var degraded =
                  Conditions.find(get().getStatus().conditions, "Degraded").orElseThrow();
              assertThat(degraded.getReason()).isEqualTo("PodTemplateConflict");
              assertThat(degraded.getMessage())
                  .contains("pools[l4].template spec.containers[ray-worker].image");
            });
    assertThat(eventReasons()).contains("PodTemplateConflict");
    assertThat(rayCluster().getMetadata().getResourceVersion()).isEqualTo(version);

    edit(
        c ->
            c.getSpec().pools.get(1).template =
                Map.of("metadata", Map.of("annotations", Map.of("example.com/team", "interp"))));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(workerGroup("l4").get("template").toString())
                    .contains("example.com/team=interp"));
    awaitReady("3/3");
    assertThat(Conditions.isTrue(get().getStatus().conditions, "Degraded")).isFalse();
  }

  @Test
  @Order(5)
  void deletingTheClusterRemovesEverything() {
    cluster.ndifCluster("fleet").delete();
    await()
        .atMost(Duration.ofSeconds(120))
        .untilAsserted(
            () -> {
              assertThat(rayClusters().list().getItems()).isEmpty();
              assertThat(cluster.client().pods().inNamespace(cluster.namespace()).list().getItems())
                  .isEmpty();
            });
  }

  @Test
  @Order(6)
  void aHeadNoNodeCanHoldIsDegradedAndNamedInReady() {
    String yaml =
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifCluster
        metadata: {name: stuck}
        spec:
          rayVersion: "2.52.0"
          autoscaling: {mode: Disabled}
          head:
            nodeSelector: {ndif.io/no-such-node: "true"}
          pools:
          - {name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 0}
        """;
    cluster
        .client()
        .resource(Serialization.unmarshal(yaml, NdifCluster.class))
        .inNamespace(cluster.namespace())
        .create();
    var stuck = cluster.ndifCluster("stuck");
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () -> {
              var conditions = stuck.get().getStatus().conditions;
              var degraded = Conditions.find(conditions, "Degraded").orElseThrow();
              assertThat(degraded.getStatus()).isEqualTo("True");
              assertThat(degraded.getReason()).isEqualTo("HeadUnschedulable");
              assertThat(degraded.getMessage())
                  .startsWith("the Ray head pod cannot be scheduled: ")
                  .contains("node affinity/selector");
              assertThat(Conditions.find(conditions, "Ready").orElseThrow().getMessage())
                  .startsWith("the Ray head pod is not ready (Unschedulable)");
            });
    assertThat(eventReasons()).contains("HeadUnschedulable");
  }

  @Test
  @Order(7)
  void aSpecKubeRayRefusesIsDegradedWithKubeRaysReasonUntilFixed() {
    // RAY_REDIS_ADDRESS without fault tolerance: KubeRay refuses the spec with a Warning event
    // only.
    String yaml =
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifCluster
        metadata: {name: refused}
        spec:
          rayVersion: "2.52.0"
          autoscaling: {mode: Disabled}
          env: [{name: RAY_REDIS_ADDRESS, value: "redis:6379"}]
          pools:
          - {name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 0}
        """;
    cluster
        .client()
        .resource(Serialization.unmarshal(yaml, NdifCluster.class))
        .inNamespace(cluster.namespace())
        .create();
    var refused = cluster.ndifCluster("refused");
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () -> {
              var degraded =
                  Conditions.find(refused.get().getStatus().conditions, "Degraded").orElseThrow();
              assertThat(degraded.getStatus()).isEqualTo("True");
              assertThat(degraded.getReason()).isEqualTo("InvalidRayClusterSpec");
              assertThat(degraded.getMessage())
                  .startsWith("KubeRay: InvalidRayClusterSpec: ")
                  .contains("RAY_REDIS_ADDRESS");
            });
    assertThat(eventReasons()).contains("InvalidRayClusterSpec");

    refused.edit(
        c -> {
          c.getSpec().env = null;
          return c;
        });
    await()
        .atMost(Duration.ofSeconds(90))
        .untilAsserted(
            () -> {
              var status = refused.get().getStatus();
              assertThat(Conditions.find(status.conditions, "Degraded").orElseThrow().getReason())
                  .isEqualTo("Healthy");
              assertThat(status.head.pod).isNotNull();
            });
  }

  private static NdifCluster awaitReady(String nodes) {
    await()
        .atMost(Duration.ofSeconds(120))
        .untilAsserted(
            () -> {
              var c = get();
              assertThat(c.getStatus()).isNotNull();
              assertThat(c.getStatus().observedGeneration)
                  .isEqualTo(c.getMetadata().getGeneration());
              assertThat(c.getStatus().nodeSummary).isEqualTo(nodes);
              assertThat(Conditions.isTrue(c.getStatus().conditions, "Ready")).isTrue();
              assertThat(Conditions.isTrue(c.getStatus().conditions, "Progressing")).isFalse();
            });
    return get();
  }

  private static NdifCluster get() {
    return cluster.ndifCluster("fleet").get();
  }

  /** As kubectl edit: on a conflict with the operator's status write, read again and retry. */
  private static void edit(java.util.function.Consumer<NdifCluster> change) {
    for (int attempt = 1; ; attempt++) {
      try {
        cluster
            .ndifCluster("fleet")
            .edit(
                c -> {
                  change.accept(c);
                  return c;
                });
        return;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (e.getCode() != 409 || attempt == 5) {
          throw e;
        }
      }
    }
  }

  private static io.fabric8.kubernetes.client.dsl.NonNamespaceOperation<
          GenericKubernetesResource,
          io.fabric8.kubernetes.api.model.GenericKubernetesResourceList,
          io.fabric8.kubernetes.client.dsl.Resource<GenericKubernetesResource>>
      rayClusters() {
    return cluster
        .client()
        .genericKubernetesResources(KubeRay.API_VERSION, "RayCluster")
        .inNamespace(cluster.namespace());
  }

  private static GenericKubernetesResource rayCluster() {
    return rayClusters().withName("fleet").get();
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Map<String, Object>> workerGroups() {
    var spec = (Map<String, Object>) rayCluster().getAdditionalProperties().get("spec");
    Map<String, Map<String, Object>> groups = new java.util.LinkedHashMap<>();
    ((List<Map<String, Object>>) spec.get("workerGroupSpecs"))
        .forEach(g -> groups.put(String.valueOf(g.get("groupName")), g));
    return groups;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> workerGroup(String name) {
    var spec = (Map<String, Object>) rayCluster().getAdditionalProperties().get("spec");
    return ((List<Map<String, Object>>) spec.get("workerGroupSpecs"))
        .stream().filter(g -> name.equals(g.get("groupName"))).findFirst().orElseThrow();
  }

  private static List<String> eventReasons() {
    return cluster.events().stream()
        .filter(e -> "NdifCluster".equals(e.getInvolvedObject().getKind()))
        .map(Event::getReason)
        .toList();
  }
}
