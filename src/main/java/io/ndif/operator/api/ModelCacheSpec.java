package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.EmptyDirVolumeSource;
import io.fabric8.kubernetes.api.model.HostPathVolumeSource;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimVolumeSource;
import io.fabric8.kubernetes.api.model.SecretKeySelector;

/** Where Hugging Face keeps downloaded models in every Ray pod, and the token for gated ones. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value =
        "(has(self.emptyDir) ? 1 : 0) + (has(self.hostPath) ? 1 : 0)"
            + " + (has(self.persistentVolumeClaim) ? 1 : 0) <= 1",
    message = "modelCache takes one of emptyDir, hostPath and persistentVolumeClaim")
public class ModelCacheSpec {
  public static final String DEFAULT_MOUNT_PATH = "/home/ray/.cache/huggingface";
  public static final String VOLUME_NAME = "ndif-model-cache";

  @JsonPropertyDescription(
      "Where the cache is mounted in every Ray container; HF_HOME points there. Default "
          + DEFAULT_MOUNT_PATH
          + ".")
  @Pattern("^/.*")
  @Size(max = 512)
  public String mountPath;

  @JsonPropertyDescription(
      "A cache per pod, gone with it: every new pod downloads its models again. The default.")
  public EmptyDirVolumeSource emptyDir;

  @JsonPropertyDescription(
      "A directory on each node: one download per node. Ray containers must be able to write it"
          + " (the rayproject images run as uid 1000).")
  public HostPathVolumeSource hostPath;

  @JsonPropertyDescription(
      "A PersistentVolumeClaim in the cluster's namespace: one download per volume. Pods on"
          + " several nodes need a ReadWriteMany volume.")
  public PersistentVolumeClaimVolumeSource persistentVolumeClaim;

  @JsonPropertyDescription(
      "A Secret key holding a Hugging Face token for gated models, passed to Ray containers as"
          + " HF_TOKEN; the operator never reads it.")
  public SecretKeySelector huggingFaceToken;

  public String mountPathOrDefault() {
    return mountPath == null ? DEFAULT_MOUNT_PATH : mountPath;
  }
}
