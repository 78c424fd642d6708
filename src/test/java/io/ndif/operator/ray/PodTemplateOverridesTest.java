package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class PodTemplateOverridesTest {
  private static final String GENERATED =
      """
      metadata:
        labels: {ndif.io/cluster: fleet, app.kubernetes.io/managed-by: ndif-operator}
      spec:
        nodeSelector: {nvidia.com/gpu.product: NVIDIA-L4}
        tolerations: [{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}]
        volumes: [{name: ndif-model-cache, emptyDir: {}}]
        containers:
        - name: ray-worker
          image: rayproject/ray:2.52.0-gpu
          env: [{name: HF_HOME, value: /home/ray/.cache/huggingface}]
          ports: [{name: metrics, containerPort: 8080, protocol: TCP}]
          resources:
            limits: {nvidia.com/gpu: 1, memory: 24Gi}
            requests: {nvidia.com/gpu: 1}
          volumeMounts: [{name: ndif-model-cache, mountPath: /home/ray/.cache/huggingface}]
      """;

  /** An override, what the merged template holds at a JSON pointer, and the conflicts. */
  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(
            "annotations and labels are added",
            "metadata: {annotations: {prometheus.io/scrape: 'true'}, labels: {team: interp}}",
            Map.of(
                "/metadata/annotations/prometheus.io~1scrape", "true",
                "/metadata/labels/team", "interp",
                "/metadata/labels/ndif.io~1cluster", "fleet"),
            List.of()),
        Arguments.of(
            "pod fields the operator leaves alone are set",
            "spec: {serviceAccountName: ray, priorityClassName: research, imagePullSecrets:"
                + " [{name: regcred}], securityContext: {fsGroup: 1000}, affinity: {podAntiAffinity:"
                + " {}}}",
            Map.of(
                "/spec/serviceAccountName", "ray",
                "/spec/priorityClassName", "research",
                "/spec/imagePullSecrets/0/name", "regcred",
                "/spec/securityContext/fsGroup", "1000"),
            List.of()),
        Arguments.of(
            "a volume and its mount are appended, the operator's stay first",
            "spec: {volumes: [{name: scratch, emptyDir: {}}], containers: [{name: ray-worker,"
                + " volumeMounts: [{name: scratch, mountPath: /scratch}]}]}",
            Map.of(
                "/spec/volumes/0/name", "ndif-model-cache",
                "/spec/volumes/1/name", "scratch",
                "/spec/containers/0/volumeMounts/1/mountPath", "/scratch",
                "/spec/containers/0/image", "rayproject/ray:2.52.0-gpu"),
            List.of()),
        Arguments.of(
            "a sidecar goes after the Ray container, which stays container 0",
            "spec: {containers: [{name: log-shipper, image: fluent-bit:3}]}",
            Map.of(
                "/spec/containers/0/name", "ray-worker", "/spec/containers/1/name", "log-shipper"),
            List.of()),
        Arguments.of(
            "env is added to the Ray container; a toleration is appended",
            "spec: {tolerations: [{key: spot, operator: Exists}], containers: [{name: ray-worker,"
                + " env: [{name: TRANSFORMERS_VERBOSITY, value: error}]}]}",
            Map.of(
                "/spec/containers/0/env/0/name", "HF_HOME",
                "/spec/containers/0/env/1/name", "TRANSFORMERS_VERBOSITY",
                "/spec/tolerations/1/key", "spot"),
            List.of()),
        Arguments.of(
            "the same value as the operator's is no conflict",
            "spec: {containers: [{name: ray-worker, resources: {limits: {memory: 24Gi}}}]}",
            Map.of("/spec/containers/0/resources/limits/memory", "24Gi"),
            List.of()),
        Arguments.of(
            "the Ray container's image is the operator's",
            "spec: {containers: [{name: ray-worker, image: mine:1}]}",
            Map.of("/spec/containers/0/image", "rayproject/ray:2.52.0-gpu"),
            List.of(
                "spec.containers[ray-worker].image: the operator sets"
                    + " \"rayproject/ray:2.52.0-gpu\", the override \"mine:1\" (set the image of"
                    + " the pool or head, or spec.image)")),
        Arguments.of(
            "the memory limit is the pool's resources",
            "spec: {containers: [{name: ray-worker, resources: {limits: {memory: 4Gi}}}]}",
            Map.of("/spec/containers/0/resources/limits/memory", "24Gi"),
            List.of(
                "spec.containers[ray-worker].resources.limits.memory: the operator sets \"24Gi\","
                    + " the override \"4Gi\" (set the pool's or head's resources)")),
        Arguments.of(
            "GPUs come from gpusPerNode, on the Ray container or any other",
            "spec: {containers: [{name: ray-worker, resources: {limits: {nvidia.com/gpu: 2}}},"
                + " {name: sidecar, resources: {limits: {nvidia.com/gpu: 1}}}]}",
            Map.of("/spec/containers/0/resources/limits/nvidia.com~1gpu", "1"),
            List.of(
                "spec.containers[ray-worker].resources.limits.nvidia.com/gpu: GPUs are set by the"
                    + " operator from the pool's gpusPerNode",
                "spec.containers[sidecar].resources.limits.nvidia.com/gpu: GPUs are set by the"
                    + " operator from the pool's gpusPerNode")),
        Arguments.of(
            "the pool's node selector cannot be changed, only added to",
            "spec: {nodeSelector: {nvidia.com/gpu.product: NVIDIA-A100, zone: a}}",
            Map.of(
                "/spec/nodeSelector/nvidia.com~1gpu.product", "NVIDIA-L4",
                "/spec/nodeSelector/zone", "a"),
            List.of(
                "spec.nodeSelector.nvidia.com/gpu.product: the operator sets \"NVIDIA-L4\", the"
                    + " override \"NVIDIA-A100\" (set the pool's or head's nodeSelector)")),
        Arguments.of(
            "the operator's labels select its pods",
            "metadata: {labels: {ndif.io/cluster: other}}",
            Map.of("/metadata/labels/ndif.io~1cluster", "fleet"),
            List.of(
                "metadata.labels.ndif.io/cluster: the operator sets \"fleet\", the override"
                    + " \"other\" (the operator's labels select the cluster's pods)")),
        Arguments.of(
            "the model cache's mount and env are the operator's",
            "spec: {containers: [{name: ray-worker, env: [{name: HF_HOME, value: /tmp}],"
                + " volumeMounts: [{name: ndif-model-cache, mountPath: /elsewhere}]}]}",
            Map.of("/spec/containers/0/env/0/value", "/home/ray/.cache/huggingface"),
            List.of(
                "spec.containers[ray-worker].env[HF_HOME].value: the operator sets"
                    + " \"/home/ray/.cache/huggingface\", the override \"/tmp\"",
                "spec.containers[ray-worker].volumeMounts[ndif-model-cache].mountPath: the operator"
                    + " sets \"/home/ray/.cache/huggingface\", the override \"/elsewhere\"")),
        Arguments.of(
            "an entry of a named list without a name cannot be merged",
            "spec: {volumes: [{emptyDir: {}}]}",
            Map.of("/spec/volumes/0/name", "ndif-model-cache"),
            List.of("spec.volumes: every entry needs a name to be merged")),
        Arguments.of(
            "a template has only metadata and spec, and metadata only labels and annotations",
            "containers: []\nmetadata: {name: mine}",
            Map.of("/metadata/labels/ndif.io~1cluster", "fleet"),
            List.of(
                "containers: a pod template has only metadata and spec",
                "metadata.name: only labels and annotations can be added")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void mergesAdditionsAndReportsChanges(
      String name, String override, Map<String, String> expected, List<String> conflicts) {
    var result = PodTemplateOverrides.merge(yaml(GENERATED), yaml(override));
    var merged = Serialization.jsonMapper().valueToTree(result.template());
    expected.forEach(
        (pointer, value) -> assertThat(merged.at(pointer).asText()).as(pointer).isEqualTo(value));
    assertThat(result.conflicts()).containsExactlyElementsOf(conflicts);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void neverChangesTheGeneratedTemplate(
      String name, String override, Map<String, String> expected, List<String> conflicts) {
    var generated = yaml(GENERATED);
    PodTemplateOverrides.merge(generated, yaml(override));
    assertThat(generated).isEqualTo(yaml(GENERATED));
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> yaml(String text) {
    return Serialization.unmarshal(text, Map.class);
  }
}
