package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.ndif.operator.testing.Fixtures;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RayClusterSpecsTest {

  @Test
  void headAdvertisesNoGpusAndCarriesOurLabelsAndEnv() {
    var spec =
        RayClusterSpecs.desired(
                Fixtures.cluster("fleet", Fixtures.TWO_POOLS), null, Set.of(), Map.of())
            .spec();
    assertThat(spec)
        .containsEntry("rayVersion", "2.52.0")
        .doesNotContainKey("enableInTreeAutoscaling");
    var head = map(spec.get("headGroupSpec"));
    assertThat(map(head.get("rayStartParams"))).containsEntry("num-gpus", "0");
    var template = map(head.get("template"));
    assertThat(map(map(template.get("metadata")).get("labels")))
        .containsEntry("app.kubernetes.io/managed-by", "ndif-operator")
        .containsEntry("ndif.io/cluster", "fleet");
    var container = container(template);
    assertThat(container).containsEntry("image", "rayproject/ray:2.52.0-gpu");
    assertThat(list(container.get("env")))
        .containsExactly(
            Map.of("name", "NDIF_MINIMUM_DEPLOYMENT_TIME_SECONDS", "value", "3600"),
            Map.of("name", "HF_HOME", "value", "/home/ray/.cache/huggingface"));
    assertThat(map(map(container.get("resources")).get("requests")))
        .containsEntry("cpu", "2")
        .containsEntry("memory", "8Gi");
  }

  @Test
  void eachPoolBecomesAWorkerGroupWithGpuLimitsSelectorAndTolerations() {
    var groups =
        groups(
            RayClusterSpecs.desired(
                    Fixtures.cluster("fleet", Fixtures.TWO_POOLS), null, Set.of(), Map.of())
                .spec());
    assertThat(groups).extracting(g -> g.get("groupName")).containsExactly("a100", "l4");

    var a100 = groups.get(0);
    assertThat(a100)
        .containsEntry("replicas", 2)
        .containsEntry("minReplicas", 1)
        .containsEntry("maxReplicas", 4);
    assertThat(map(a100.get("rayStartParams")))
        .containsEntry("resources", "\"{\\\"ndif_pool_a100\\\": 8}\"");
    var template = map(a100.get("template"));
    assertThat(map(map(template.get("metadata")).get("labels")))
        .containsEntry("ndif.io/pool", "a100");
    var podSpec = map(template.get("spec"));
    assertThat(map(podSpec.get("nodeSelector")))
        .containsEntry("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-80GB")
        .containsEntry("cloud.example.com/zone", "a");
    assertThat(list(podSpec.get("tolerations")))
        .containsExactly(
            Map.of("key", "nvidia.com/gpu", "operator", "Exists", "effect", "NoSchedule"));
    var resources = map(container(template).get("resources"));
    assertThat(map(resources.get("limits"))).containsEntry("nvidia.com/gpu", "8");
    assertThat(map(resources.get("requests"))).containsEntry("nvidia.com/gpu", "8");

    var l4 = groups.get(1);
    assertThat(l4)
        .containsEntry("replicas", 1)
        .containsEntry("minReplicas", 0)
        .containsEntry("maxReplicas", 1);
    assertThat(map(l4.get("template")).get("spec"))
        .satisfies(s -> assertThat(map(s)).doesNotContainKey("nodeSelector"));
  }

  @Test
  void disabledModePinsEveryPoolToItsNodes() {
    var cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS + "autoscaling: {mode: Disabled}\n");
    var a100 = groups(RayClusterSpecs.desired(cluster, null, Set.of(), Map.of()).spec()).get(0);
    assertThat(a100)
        .containsEntry("replicas", 2)
        .containsEntry("minReplicas", 2)
        .containsEntry("maxReplicas", 2);
  }

  @Test
  void rayModeTurnsOnTheAutoscalerAndKeepsItsReplicasAndWorkersToDelete() {
    var cluster =
        Fixtures.cluster(
            "fleet", Fixtures.TWO_POOLS + "autoscaling: {mode: Ray, idleTimeoutSeconds: 120}\n");
    var live = new GenericKubernetesResource();
    live.setAdditionalProperty(
        "spec",
        Map.of(
            "workerGroupSpecs",
            List.of(
                Map.of(
                    "groupName",
                    "a100",
                    "replicas",
                    3,
                    "scaleStrategy",
                    Map.of("workersToDelete", List.of("fleet-a100-x"))))));
    var spec = RayClusterSpecs.desired(cluster, live, Set.of(), Map.of()).spec();
    assertThat(spec).containsEntry("enableInTreeAutoscaling", true);
    assertThat(map(spec.get("autoscalerOptions"))).containsEntry("idleTimeoutSeconds", 120);
    var a100 = groups(spec).get(0);
    assertThat(a100).containsEntry("replicas", 3);
    assertThat(map(a100.get("scaleStrategy")))
        .containsEntry("workersToDelete", List.of("fleet-a100-x"));
    assertThat(groups(spec).get(1)).containsEntry("replicas", 1);
  }

  @Test
  void operatorModeIgnoresLiveReplicas() {
    var live = new GenericKubernetesResource();
    live.setAdditionalProperty(
        "spec", Map.of("workerGroupSpecs", List.of(Map.of("groupName", "a100", "replicas", 4))));
    var a100 =
        groups(
                RayClusterSpecs.desired(
                        Fixtures.cluster("fleet", Fixtures.TWO_POOLS), live, Set.of(), Map.of())
                    .spec())
            .get(0);
    assertThat(a100).containsEntry("replicas", 2);
  }

  @Test
  void redisFaultToleranceReadsThePasswordFromTheSecret() {
    var cluster =
        Fixtures.cluster(
            "fleet",
            Fixtures.TWO_POOLS
                + "faultTolerance: {redis: {address: 'redis:6379', passwordSecretRef: {name: redis, key: password}}}\n");
    var options =
        map(
            RayClusterSpecs.desired(cluster, null, Set.of(), Map.of())
                .spec()
                .get("gcsFaultToleranceOptions"));
    assertThat(options).containsEntry("redisAddress", "redis:6379");
    assertThat(options.get("redisPassword"))
        .isEqualTo(
            Map.of(
                "valueFrom", Map.of("secretKeyRef", Map.of("name", "redis", "key", "password"))));
  }

  @Test
  void theGatewaysStoreTurnsOnGcsFaultToleranceUnlessToldNot() {
    String store =
        "gateway: {store: {address: 'jobs.lab:6380', tls: true,"
            + " passwordSecretRef: {name: jobs, key: pw}}}\n";
    var withStore = Fixtures.cluster("fleet", Fixtures.TWO_POOLS + store);
    var options =
        map(
            RayClusterSpecs.desired(withStore, null, Set.of(), Map.of())
                .spec()
                .get("gcsFaultToleranceOptions"));
    assertThat(options).containsEntry("redisAddress", "rediss://jobs.lab:6380");
    assertThat(options.get("redisPassword"))
        .isEqualTo(
            Map.of("valueFrom", Map.of("secretKeyRef", Map.of("name", "jobs", "key", "pw"))));

    var optedOut =
        Fixtures.cluster(
            "fleet", Fixtures.TWO_POOLS + store + "faultTolerance: {useGatewayStore: false}\n");
    assertThat(RayClusterSpecs.desired(optedOut, null, Set.of(), Map.of()).spec())
        .doesNotContainKey("gcsFaultToleranceOptions");

    var ownRedis =
        Fixtures.cluster(
            "fleet",
            Fixtures.TWO_POOLS + store + "faultTolerance: {redis: {address: 'gcs.lab:6379'}}\n");
    assertThat(
            map(
                RayClusterSpecs.desired(ownRedis, null, Set.of(), Map.of())
                    .spec()
                    .get("gcsFaultToleranceOptions")))
        .containsExactly(Map.entry("redisAddress", "gcs.lab:6379"));

    assertThat(
            RayClusterSpecs.desired(
                    Fixtures.cluster("fleet", Fixtures.TWO_POOLS), null, Set.of(), Map.of())
                .spec())
        .doesNotContainKey("gcsFaultToleranceOptions");
  }

  @Test
  void poolImageAndResourcesOverrideTheClusterDefaults() {
    var cluster =
        Fixtures.cluster(
            "fleet",
            """
            image: base:1
            pools:
            - name: big
              gpusPerNode: 2
              gpuMemory: 40Gi
              image: custom:2
              resources: {requests: {cpu: "16"}, limits: {memory: 100Gi}}
            """);
    var template =
        map(
            groups(RayClusterSpecs.desired(cluster, null, Set.of(), Map.of()).spec())
                .get(0)
                .get("template"));
    var container = container(template);
    assertThat(container).containsEntry("image", "custom:2");
    var resources = map(container.get("resources"));
    assertThat(map(resources.get("requests")))
        .containsEntry("cpu", "16")
        .containsEntry("nvidia.com/gpu", "2");
    assertThat(map(resources.get("limits")))
        .containsEntry("memory", "100Gi")
        .containsEntry("nvidia.com/gpu", "2");
  }

  @Test
  void aRemovedPoolDrainsToZeroWhileItsPodsRemainThenDisappears() {
    var live = new GenericKubernetesResource();
    live.setAdditionalProperty(
        "spec",
        Map.of(
            "workerGroupSpecs",
            List.of(
                Map.of("groupName", "a100", "replicas", 2),
                Map.of("groupName", "h100", "replicas", 1, "template", Map.of("spec", Map.of())))));
    var cluster = Fixtures.cluster("fleet", Fixtures.TWO_POOLS);
    var draining =
        groups(RayClusterSpecs.desired(cluster, live, Set.of("a100", "h100"), Map.of()).spec());
    assertThat(draining).extracting(g -> g.get("groupName")).containsExactly("a100", "l4", "h100");
    assertThat(draining.get(2))
        .containsEntry("replicas", 0)
        .containsEntry("minReplicas", 0)
        .containsEntry("maxReplicas", 0)
        .containsKey("template");
    var gone = groups(RayClusterSpecs.desired(cluster, live, Set.of("a100"), Map.of()).spec());
    assertThat(gone).extracting(g -> g.get("groupName")).containsExactly("a100", "l4");
  }

  @Test
  void everyRayPodGetsAMemoryLimitThatSizesItsObjectStore() {
    var spec =
        RayClusterSpecs.desired(
                Fixtures.cluster(
                    "fleet",
                    Fixtures.TWO_POOLS
                        + "- {name: small, gpusPerNode: 1, gpuMemory: 4Gi}\n"
                        + "- {name: asks, gpusPerNode: 1, gpuMemory: 4Gi, resources: {requests:"
                        + " {memory: 12Gi}}}\n"
                        + "- {name: told, gpusPerNode: 1, gpuMemory: 4Gi, resources: {limits:"
                        + " {memory: 2Gi}}}\n"),
                null,
                Set.of(),
                Map.of())
            .spec();
    var groups = groups(spec);
    // gpusPerNode x gpuMemory, at least 8Gi, or the request when it is larger; a limit is kept.
    assertThat(limits(container(map(groups.get(0).get("template")))))
        .containsEntry("memory", "655360Mi");
    assertThat(limits(container(map(groups.get(1).get("template")))))
        .containsEntry("memory", "98304Mi");
    assertThat(limits(container(map(groups.get(2).get("template")))))
        .containsEntry("memory", "8192Mi");
    assertThat(limits(container(map(groups.get(3).get("template")))))
        .containsEntry("memory", "12Gi");
    assertThat(limits(container(map(groups.get(4).get("template")))))
        .containsEntry("memory", "2Gi");
    var head = map(spec.get("headGroupSpec"));
    assertThat(limits(container(map(head.get("template"))))).containsEntry("memory", "8Gi");
  }

  @Test
  void rayPodsExposeTheirMetricsPortAndTheHeadKeepsKubeRaysServicePorts() {
    var spec =
        RayClusterSpecs.desired(
                Fixtures.cluster("fleet", Fixtures.TWO_POOLS), null, Set.of(), Map.of())
            .spec();
    var head = map(spec.get("headGroupSpec"));
    assertThat(map(head.get("rayStartParams"))).containsEntry("metrics-export-port", "8080");
    assertThat(list(container(map(head.get("template"))).get("ports")))
        .extracting(p -> map(p).get("name") + ":" + map(p).get("containerPort"))
        .containsExactly(
            "gcs-server:6379",
            "dashboard:8265",
            "client:10001",
            "serve:8000",
            "metrics:8080",
            "ndif-api:8001");
    var worker = groups(spec).get(0);
    assertThat(map(worker.get("rayStartParams")))
        .containsEntry("metrics-export-port", "8080")
        .containsEntry("num-gpus", "8");
    assertThat(list(container(map(worker.get("template"))).get("ports")))
        .containsExactly(Map.of("name", "metrics", "containerPort", 8080, "protocol", "TCP"));
  }

  @Test
  void theModelCacheIsAnEmptyDirUnlessAVolumeIsChosen() {
    var byDefault = podSpec(Fixtures.TWO_POOLS);
    assertThat(list(byDefault.get("volumes")))
        .contains(Map.of("name", "ndif-model-cache", "emptyDir", Map.of()));
    var ray = map(list(byDefault.get("containers")).get(0));
    assertThat(list(ray.get("volumeMounts")))
        .contains(Map.of("name", "ndif-model-cache", "mountPath", "/home/ray/.cache/huggingface"));

    var pvc =
        podSpec(
            Fixtures.TWO_POOLS
                + "modelCache: {mountPath: /models, persistentVolumeClaim: {claimName: hf}}\n");
    assertThat(list(pvc.get("volumes")))
        .contains(
            Map.of("name", "ndif-model-cache", "persistentVolumeClaim", Map.of("claimName", "hf")));
    var pvcRay = map(list(pvc.get("containers")).get(0));
    assertThat(list(pvcRay.get("env"))).contains(Map.of("name", "HF_HOME", "value", "/models"));
    assertThat(list(pvcRay.get("volumeMounts")))
        .contains(Map.of("name", "ndif-model-cache", "mountPath", "/models"));

    var host =
        podSpec(
            Fixtures.TWO_POOLS
                + "modelCache: {hostPath: {path: /var/lib/hf, type: DirectoryOrCreate}}\n");
    assertThat(list(host.get("volumes")))
        .contains(
            Map.of(
                "name",
                "ndif-model-cache",
                "hostPath",
                Map.of("path", "/var/lib/hf", "type", "DirectoryOrCreate")));
  }

  @Test
  void theHuggingFaceTokenIsPassedByReference() {
    var spec =
        podSpec(Fixtures.TWO_POOLS + "modelCache: {huggingFaceToken: {name: hf, key: token}}\n");
    assertThat(list(map(list(spec.get("containers")).get(0)).get("env")))
        .contains(
            Map.of(
                "name",
                "HF_TOKEN",
                "valueFrom",
                Map.of("secretKeyRef", Map.of("name", "hf", "key", "token"))));
  }

  @Test
  void templateOverridesReachTheirGroupAndConflictsNameTheirPlace() {
    var cluster =
        Fixtures.cluster(
            "fleet",
            Fixtures.TWO_POOLS.replace(
                    "  nodes: 1\n",
                    "  nodes: 1\n"
                        + "  template: {metadata: {annotations: {a: b}}, spec:"
                        + " {serviceAccountName: ray}}\n")
                + "head: {template: {spec: {containers: [{name: ray-head, image: other}]}}}\n");
    var desired = RayClusterSpecs.desired(cluster, null, Set.of(), Map.of());
    var l4 = map(groups(desired.spec()).get(1).get("template"));
    assertThat(map(map(l4.get("metadata")).get("annotations"))).containsEntry("a", "b");
    assertThat(map(l4.get("spec"))).containsEntry("serviceAccountName", "ray");
    assertThat(map(groups(desired.spec()).get(0).get("template")).get("spec"))
        .satisfies(s -> assertThat(map(s)).doesNotContainKey("serviceAccountName"));
    assertThat(desired.conflicts())
        .containsExactly(
            "head.template spec.containers[ray-head].image: the operator sets"
                + " \"rayproject/ray:2.52.0-gpu\", the override \"other\" (set the image of the"
                + " pool or head, or spec.image)");
    assertThat(RayClusterSpecs.conflicts(cluster)).isEqualTo(desired.conflicts());
  }

  @Test
  void rayPodsHoldNoServiceAccountTokenButAnAutoscaledHeadDoes() {
    var spec =
        RayClusterSpecs.desired(
                Fixtures.cluster("fleet", Fixtures.TWO_POOLS), null, Set.of(), Map.of())
            .spec();
    var head = map(map(map(spec.get("headGroupSpec")).get("template")).get("spec"));
    assertThat(head).containsEntry("automountServiceAccountToken", false);
    for (var group : groups(spec)) {
      var pod = map(map(group.get("template")).get("spec"));
      assertThat(pod).containsEntry("automountServiceAccountToken", false);
      assertThat(map(pod.get("securityContext")))
          .containsEntry("seccompProfile", Map.of("type", "RuntimeDefault"));
      assertThat(map(map(list(pod.get("containers")).get(0)).get("securityContext")))
          .containsEntry("allowPrivilegeEscalation", false)
          .containsEntry("capabilities", Map.of("drop", List.of("ALL")));
    }

    var autoscaled =
        RayClusterSpecs.desired(
                Fixtures.cluster("fleet", Fixtures.TWO_POOLS + "autoscaling: {mode: Ray}\n"),
                null,
                Set.of(),
                Map.of())
            .spec();
    var autoscaledHead = map(map(map(autoscaled.get("headGroupSpec")).get("template")).get("spec"));
    assertThat(autoscaledHead).doesNotContainKey("automountServiceAccountToken");
    assertThat(map(map(groups(autoscaled).get(0).get("template")).get("spec")))
        .containsEntry("automountServiceAccountToken", false);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> podSpec(String clusterSpec) {
    var spec =
        RayClusterSpecs.desired(Fixtures.cluster("fleet", clusterSpec), null, Set.of(), Map.of())
            .spec();
    var worker = map(map(groups(spec).get(0).get("template")).get("spec"));
    var head = map(map(map(spec.get("headGroupSpec")).get("template")).get("spec"));
    // The head has the workers' volumes, and the API keys for the gateway that runs there.
    assertThat((List<Object>) head.get("volumes"))
        .containsAll((List<Object>) worker.get("volumes"));
    return worker;
  }

  private static Map<String, Object> limits(Map<String, Object> container) {
    return map(map(container.get("resources")).get("limits"));
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object value) {
    return (Map<String, Object>) value;
  }

  @SuppressWarnings("unchecked")
  static List<Object> list(Object value) {
    return (List<Object>) value;
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> groups(Map<String, Object> spec) {
    return (List<Map<String, Object>>) spec.get("workerGroupSpecs");
  }

  static Map<String, Object> container(Map<String, Object> template) {
    return map(list(map(template.get("spec")).get("containers")).get(0));
  }
}
