package io.ndif.operator.ondemand;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.ModelSpec;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.OnDemandModelSpec;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;

/** The NdifDeployment the operator makes for a model deployed on demand. */
public final class OnDemandDeployments {
  private OnDemandDeployments() {}

  /**
   * {@code od-<the id, as a DNS label>-<8 hex digits of its hash>}: readable in {@code kubectl get
   * ndd}, and two ids that read alike never share a name.
   */
  public static String name(String repoId) {
    String slug =
        repoId.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("^-+|-+$", "");
    if (slug.length() > 40) {
      slug = slug.substring(0, 40).replaceAll("-+$", "");
    }
    return "od-" + slug + "-" + hash(repoId).substring(0, 8);
  }

  public static NdifDeployment of(NdifCluster cluster, String repoId, OnDemandModelSpec entry) {
    var onDemand = cluster.getSpec().onDemand;
    var deployment = new NdifDeployment();
    deployment.setMetadata(
        new ObjectMetaBuilder()
            .withName(name(repoId))
            .withNamespace(cluster.getMetadata().getNamespace())
            .withLabels(
                Map.of(
                    Constants.LABEL_ON_DEMAND,
                    "true",
                    Constants.LABEL_CLUSTER,
                    cluster.getMetadata().getName(),
                    Constants.LABEL_MANAGED_BY,
                    Constants.FIELD_MANAGER))
            .withOwnerReferences(
                new OwnerReferenceBuilder()
                    .withApiVersion(cluster.getApiVersion())
                    .withKind(cluster.getKind())
                    .withName(cluster.getMetadata().getName())
                    .withUid(cluster.getMetadata().getUid())
                    .build())
            .build());
    var spec = new NdifDeploymentSpec();
    spec.clusterRef = cluster.getMetadata().getName();
    spec.model = new ModelSpec();
    spec.model.repoId = repoId;
    spec.model.sizeBytes = entry.sizeBytes;
    spec.model.parameters = entry.parameters;
    spec.model.dtype = entry.dtype;
    spec.resources = entry.resources;
    spec.executionTimeoutSeconds = entry.executionTimeoutSeconds;
    spec.replicas = 1;
    spec.priority = onDemand.priorityOrDefault();
    deployment.setSpec(spec);
    return deployment;
  }

  private static String hash(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
