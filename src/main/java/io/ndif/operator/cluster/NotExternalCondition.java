package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;
import io.ndif.operator.api.NdifCluster;

/** An NdifCluster that adopts an external Ray cluster gets no RayCluster. */
public class NotExternalCondition implements Condition<GenericKubernetesResource, NdifCluster> {
  @Override
  public boolean isMet(
      DependentResource<GenericKubernetesResource, NdifCluster> dependent,
      NdifCluster cluster,
      Context<NdifCluster> context) {
    return !cluster.getSpec().usesExternalCluster();
  }
}
