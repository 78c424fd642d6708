package io.ndif.operator.deployment;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec.Isolation;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.observability.StatusComparison;
import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Validates an NdifDeployment against its cluster and reports it in status. Placement and serving
 * are not part of this version: Scheduled stays Unknown with a reason that says so.
 */
@ControllerConfiguration(name = "ndifdeployment", fieldManager = Constants.FIELD_MANAGER)
public class NdifDeploymentReconciler implements Reconciler<NdifDeployment> {
  private static final Logger log = LoggerFactory.getLogger(NdifDeploymentReconciler.class);
  public static final String SCHEDULED = "Scheduled";
  public static final String READY = "Ready";

  private final Clock clock;

  public NdifDeploymentReconciler(Clock clock) {
    this.clock = clock;
  }

  @Override
  public UpdateControl<NdifDeployment> reconcile(
      NdifDeployment deployment, Context<NdifDeployment> context) {
    var spec = deployment.getSpec();
    var previous = deployment.getStatus();
    var status = new NdifDeploymentStatus();
    status.observedGeneration = deployment.getMetadata().getGeneration();
    status.modelKey = ModelKeys.of(spec.model);
    status.replicas = spec.replicas == null ? 1 : spec.replicas;
    status.readyReplicas = 0;
    status.replicaSummary = "0/" + status.replicas;
    var conditions =
        new Conditions(
            previous == null ? null : previous.conditions,
            deployment.getMetadata().getGeneration(),
            clock);
    boolean clusterMissing = false;
    if (spec.isolation != Isolation.Dedicated) {
      var cluster =
          context
              .getClient()
              .resources(NdifCluster.class)
              .inNamespace(deployment.getMetadata().getNamespace())
              .withName(spec.clusterRef)
              .get();
      clusterMissing = cluster == null;
    }
    if (clusterMissing) {
      conditions.set(
          SCHEDULED,
          false,
          "ClusterNotFound",
          "NdifCluster "
              + spec.clusterRef
              + " does not exist in namespace "
              + deployment.getMetadata().getNamespace());
    } else {
      conditions.set(
          SCHEDULED,
          Conditions.UNKNOWN,
          "PlacementNotImplemented",
          "this operator version validates NdifDeployments but does not place or serve them yet");
    }
    conditions.set(READY, false, "NotServed", "the model is not served");
    status.conditions = conditions.build();
    boolean changed = !StatusComparison.same(previous, status);
    log.info(
        "ndifdeployment {}/{}: Scheduled={} status {}",
        deployment.getMetadata().getNamespace(),
        deployment.getMetadata().getName(),
        Conditions.reason(status.conditions, SCHEDULED),
        changed ? "patched" : "unchanged");
    UpdateControl<NdifDeployment> control =
        changed
            ? UpdateControl.patchStatus(statusOnly(deployment, status))
            : UpdateControl.noUpdate();
    // Without a watch on clusters yet, a missing cluster is looked up again later.
    return clusterMissing ? control.rescheduleAfter(Duration.ofSeconds(30)) : control;
  }

  private static NdifDeployment statusOnly(NdifDeployment deployment, NdifDeploymentStatus status) {
    var patch = new NdifDeployment();
    patch.setMetadata(
        new ObjectMetaBuilder()
            .withName(deployment.getMetadata().getName())
            .withNamespace(deployment.getMetadata().getNamespace())
            .build());
    patch.setStatus(status);
    return patch;
  }
}
