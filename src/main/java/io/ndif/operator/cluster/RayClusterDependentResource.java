package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import io.javaoperatorsdk.operator.processing.dependent.Creator;
import io.javaoperatorsdk.operator.processing.dependent.Updater;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.GenericKubernetesDependentResource;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.ray.KubeRay;

/** The KubeRay RayCluster of an NdifCluster: built from the spec, applied server-side. */
public class RayClusterDependentResource extends GenericKubernetesDependentResource<NdifCluster>
    implements Creator<GenericKubernetesResource, NdifCluster>,
        Updater<GenericKubernetesResource, NdifCluster>,
        GarbageCollected<NdifCluster> {

  public RayClusterDependentResource() {
    super(KubeRay.RAY_CLUSTER);
  }

  @Override
  protected GenericKubernetesResource desired(NdifCluster cluster, Context<NdifCluster> context) {
    var live = context.getSecondaryResource(GenericKubernetesResource.class).orElse(null);
    var resource = new GenericKubernetesResource();
    resource.setApiVersion(KubeRay.API_VERSION);
    resource.setKind(KubeRay.RAY_CLUSTER.getKind());
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withName(cluster.getMetadata().getName())
            .withNamespace(cluster.getMetadata().getNamespace())
            .withLabels(ClusterLabels.forCluster(cluster))
            .build());
    resource.setAdditionalProperty("spec", RayClusterSpecs.desired(cluster, live));
    return resource;
  }
}
