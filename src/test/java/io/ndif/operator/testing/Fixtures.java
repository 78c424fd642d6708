package io.ndif.operator.testing;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterSpec;

/** Test objects written as YAML, the way users write them. */
public final class Fixtures {
  private Fixtures() {}

  public static NdifCluster cluster(String name, String specYaml) {
    var cluster = new NdifCluster();
    cluster.setMetadata(
        new ObjectMetaBuilder().withName(name).withNamespace("ns").withGeneration(1L).build());
    cluster.setSpec(Serialization.unmarshal(specYaml, NdifClusterSpec.class));
    return cluster;
  }

  public static final String TWO_POOLS =
      """
      rayVersion: "2.52.0"
      image: rayproject/ray:2.52.0-gpu
      env:
      - {name: NDIF_MINIMUM_DEPLOYMENT_TIME_SECONDS, value: "3600"}
      pools:
      - name: a100
        gpusPerNode: 8
        gpuMemory: 80Gi
        gpuProduct: NVIDIA-A100-SXM4-80GB
        nodes: 2
        minNodes: 1
        maxNodes: 4
        nodeSelector: {cloud.example.com/zone: a}
        tolerations:
        - {key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}
      - name: l4
        gpusPerNode: 4
        gpuMemory: 24Gi
        nodes: 1
      """;

  /** A gateway key file that accepts {@code key} for a trusted holder: its SHA-256, never it. */
  public static String trustedKeyFile(String key, String holder) {
    try {
      byte[] digest =
          java.security.MessageDigest.getInstance("SHA-256")
              .digest(key.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      return "keys:\n- {sha256: "
          + java.util.HexFormat.of().formatHex(digest)
          + ", name: "
          + holder
          + ", tags: [trusted]}\n";
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
