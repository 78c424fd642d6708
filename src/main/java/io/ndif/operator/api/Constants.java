package io.ndif.operator.api;

/** Names shared by the API, the controllers and the objects they generate. */
public final class Constants {
  public static final String GROUP = "ndif.io";
  public static final String VERSION = "v1alpha1";
  public static final String OPERATOR_NAME = "ndif-operator";
  public static final String FIELD_MANAGER = OPERATOR_NAME;

  public static final String LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
  public static final String LABEL_CLUSTER = GROUP + "/cluster";
  public static final String LABEL_POOL = GROUP + "/pool";
  public static final String LABEL_DEPLOYMENT = GROUP + "/deployment";

  /** On an NdifDeployment the operator made because a job asked for its model. */
  public static final String LABEL_ON_DEMAND = GROUP + "/on-demand";

  /** When a job last used an on-demand deployment's model (RFC 3339), as its gateway reported. */
  public static final String ANNOTATION_LAST_USED = GROUP + "/last-used";

  public static final String GPU_RESOURCE = "nvidia.com/gpu";
  public static final String GPU_PRODUCT_LABEL = "nvidia.com/gpu.product";
  public static final String GPU_MEMORY_LABEL = "nvidia.com/gpu.memory";

  private Constants() {}
}
