package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;
import io.ndif.operator.api.NdifCluster;

/**
 * A managed cluster whose spec.networkPolicy is enabled; otherwise its NetworkPolicy is removed.
 */
public class NetworkPolicyWantedCondition implements Condition<NetworkPolicy, NdifCluster> {
  @Override
  public boolean isMet(
      DependentResource<NetworkPolicy, NdifCluster> dependent,
      NdifCluster cluster,
      Context<NdifCluster> context) {
    return RayNetworkPolicies.wanted(cluster);
  }
}
