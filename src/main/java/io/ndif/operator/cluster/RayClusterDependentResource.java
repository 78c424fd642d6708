package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import io.javaoperatorsdk.operator.processing.dependent.Creator;
import io.javaoperatorsdk.operator.processing.dependent.Matcher;
import io.javaoperatorsdk.operator.processing.dependent.Updater;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.GenericKubernetesDependentResource;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.SubsetMatch;
import java.util.Map;

/** The KubeRay RayCluster of an NdifCluster: built from the spec, applied server-side. */
public class RayClusterDependentResource extends GenericKubernetesDependentResource<NdifCluster>
    implements Creator<GenericKubernetesResource, NdifCluster>,
        Updater<GenericKubernetesResource, NdifCluster>,
        GarbageCollected<NdifCluster> {

  public RayClusterDependentResource() {
    super(KubeRay.RAY_CLUSTER);
  }

  /**
   * The live object matches when it holds everything desired; the defaults that the API server and
   * KubeRay add to the atomic worker group list would otherwise make every reconcile re-apply it.
   */
  @Override
  public Matcher.Result<GenericKubernetesResource> match(
      GenericKubernetesResource actual,
      GenericKubernetesResource desired,
      NdifCluster primary,
      Context<NdifCluster> context) {
    boolean matched =
        SubsetMatch.contains(actual.getMetadata().getLabels(), desired.getMetadata().getLabels())
            && SubsetMatch.contains(
                actual.getMetadata().getAnnotations(), desired.getMetadata().getAnnotations())
            && SubsetMatch.contains(
                actual.getAdditionalProperties().get("spec"),
                desired.getAdditionalProperties().get("spec"));
    return Matcher.Result.computed(matched, desired);
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
            // KubeRay then keeps <name>-serve-svc on the Serve port of the pods whose proxy is up:
            // the NDIF gateway's address.
            .withAnnotations(Map.of(KubeRay.ENABLE_SERVE_SERVICE, "true"))
            .build());
    var poolsWithPods =
        context.getSecondaryResources(Pod.class).stream()
            .map(p -> p.getMetadata().getLabels().get(Constants.LABEL_POOL))
            .filter(java.util.Objects::nonNull)
            .collect(java.util.stream.Collectors.toSet());
    @SuppressWarnings("unchecked")
    Map<String, Integer> plannedNodes =
        context
            .managedWorkflowAndDependentResourceContext()
            .get(ClusterObservation.PLANNED_NODES, Map.class)
            .orElse(Map.of());
    var pods = context.getSecondaryResources(Pod.class);
    resource.setAdditionalProperty(
        "spec",
        RayClusterSpecs.desired(
                cluster,
                live,
                poolsWithPods,
                plannedNodes,
                GatewayPlacement.pinned(cluster, pods),
                RayAuth.effective(cluster, pods))
            .spec());
    return resource;
  }
}
