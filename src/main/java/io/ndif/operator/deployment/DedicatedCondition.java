package io.ndif.operator.deployment;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.DependentResource;
import io.javaoperatorsdk.operator.processing.dependent.workflow.Condition;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec.Isolation;

/** Only a Dedicated deployment whose size is known gets a RayService. */
public class DedicatedCondition implements Condition<GenericKubernetesResource, NdifDeployment> {
  @Override
  public boolean isMet(
      DependentResource<GenericKubernetesResource, NdifDeployment> dependent,
      NdifDeployment deployment,
      Context<NdifDeployment> context) {
    return deployment.getSpec().isolation == Isolation.Dedicated
        && deployment.getSpec().dedicated != null
        && deployment.getSpec().dedicated.pool != null
        && DedicatedServices.gpusPerReplica(deployment).isPresent();
  }
}
