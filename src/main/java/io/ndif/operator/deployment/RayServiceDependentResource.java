package io.ndif.operator.deployment;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.dependent.GarbageCollected;
import io.javaoperatorsdk.operator.processing.dependent.Creator;
import io.javaoperatorsdk.operator.processing.dependent.Matcher;
import io.javaoperatorsdk.operator.processing.dependent.Updater;
import io.javaoperatorsdk.operator.processing.dependent.kubernetes.GenericKubernetesDependentResource;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.SubsetMatch;
import java.util.Map;

/** The RayService of a Dedicated NdifDeployment. */
public class RayServiceDependentResource extends GenericKubernetesDependentResource<NdifDeployment>
    implements Creator<GenericKubernetesResource, NdifDeployment>,
        Updater<GenericKubernetesResource, NdifDeployment>,
        GarbageCollected<NdifDeployment> {

  public RayServiceDependentResource() {
    super(KubeRay.RAY_SERVICE);
  }

  @Override
  protected GenericKubernetesResource desired(
      NdifDeployment deployment, Context<NdifDeployment> context) {
    var resource = new GenericKubernetesResource();
    resource.setApiVersion(KubeRay.API_VERSION);
    resource.setKind(KubeRay.RAY_SERVICE.getKind());
    resource.setMetadata(
        new ObjectMetaBuilder()
            .withName(deployment.getMetadata().getName())
            .withNamespace(deployment.getMetadata().getNamespace())
            .withLabels(
                Map.of(
                    Constants.LABEL_MANAGED_BY,
                    Constants.OPERATOR_NAME,
                    Constants.LABEL_DEPLOYMENT,
                    deployment.getMetadata().getName()))
            .build());
    resource.setAdditionalProperty("spec", DedicatedServices.spec(deployment));
    return resource;
  }

  /** KubeRay and the API server add defaults; only what the operator sets must match. */
  @Override
  public Matcher.Result<GenericKubernetesResource> match(
      GenericKubernetesResource actual,
      GenericKubernetesResource desired,
      NdifDeployment primary,
      Context<NdifDeployment> context) {
    return Matcher.Result.computed(
        SubsetMatch.contains(
            Serialization.jsonMapper()
                .convertValue(actual.getAdditionalProperties().get("spec"), Map.class),
            desired.getAdditionalProperties().get("spec")),
        desired);
  }
}
