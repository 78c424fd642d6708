package io.ndif.operator.api;

/** Who sizes an NdifCluster's pools. */
public enum AutoscalingMode {
  /** The operator sizes each pool between minNodes and maxNodes. */
  Operator,
  /** KubeRay's in-tree Ray autoscaler sizes the pools. */
  Ray,
  /** Each pool runs exactly spec.pools[].nodes nodes. */
  Disabled
}
