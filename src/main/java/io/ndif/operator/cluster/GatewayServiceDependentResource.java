package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Service;
import io.javaoperatorsdk.operator.api.config.informer.Informer;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.CRUDKubernetesDependentResource;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.KubernetesDependent;
import io.ndif.operator.api.NdifCluster;

/** The Service of the gateway replicas' own port ({@link GatewayServices}). */
@KubernetesDependent(informer = @Informer(labelSelector = ClusterLabels.MANAGED_SELECTOR))
public class GatewayServiceDependentResource
    extends CRUDKubernetesDependentResource<Service, NdifCluster> {

  public GatewayServiceDependentResource() {
    super(Service.class);
  }

  @Override
  protected Service desired(NdifCluster cluster, Context<NdifCluster> context) {
    return GatewayServices.build(cluster);
  }
}
