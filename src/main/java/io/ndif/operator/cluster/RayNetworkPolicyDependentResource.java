package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.ndif.operator.api.NdifCluster;

/** The NetworkPolicy of a managed cluster's Ray pods, when its spec asks for one. */
public class RayNetworkPolicyDependentResource
    extends CRUDKubernetesDependentResource<NetworkPolicy, NdifCluster> {

  public RayNetworkPolicyDependentResource() {
    super(NetworkPolicy.class);
  }

  @Override
  protected NetworkPolicy desired(NdifCluster cluster, Context<NdifCluster> context) {
    return RayNetworkPolicies.build(cluster);
  }
}
