package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Service;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;
import io.ndif.operator.api.NdifCluster;

/** A managed cluster whose gateway serves its own port; otherwise its Service is removed. */
public class GatewayServiceWantedCondition implements Condition<Service, NdifCluster> {
  @Override
  public boolean isMet(
      DependentResource<Service, NdifCluster> dependent,
      NdifCluster cluster,
      Context<NdifCluster> context) {
    return GatewayServices.wanted(cluster);
  }
}
