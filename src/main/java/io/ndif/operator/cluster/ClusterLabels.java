package io.ndif.operator.cluster;

import static io.ndif.operator.api.Constants.LABEL_CLUSTER;
import static io.ndif.operator.api.Constants.LABEL_MANAGED_BY;
import static io.ndif.operator.api.Constants.LABEL_POOL;
import static io.ndif.operator.api.Constants.OPERATOR_NAME;

import io.ndif.operator.api.NdifCluster;
import java.util.LinkedHashMap;
import java.util.Map;

/** Labels on everything generated for an NdifCluster; pod informers select on them. */
public final class ClusterLabels {
  public static final String MANAGED_SELECTOR = LABEL_MANAGED_BY + "=" + OPERATOR_NAME;

  private ClusterLabels() {}

  public static Map<String, String> forCluster(NdifCluster cluster) {
    Map<String, String> labels = new LinkedHashMap<>();
    labels.put(LABEL_MANAGED_BY, OPERATOR_NAME);
    labels.put(LABEL_CLUSTER, cluster.getMetadata().getName());
    return labels;
  }

  public static Map<String, String> forPool(NdifCluster cluster, String pool) {
    Map<String, String> labels = forCluster(cluster);
    labels.put(LABEL_POOL, pool);
    return labels;
  }
}
