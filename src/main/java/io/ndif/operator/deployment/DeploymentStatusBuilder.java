package io.ndif.operator.deployment;

import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus.DeploymentPlacement;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec.Isolation;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.cluster.ClusterPlanning;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.placement.Decision;
import java.time.Clock;

/**
 * An NdifDeployment's status from its cluster's placement plan. The cluster's controller decides;
 * this only reports, so two deployments never race for the same GPUs.
 */
public final class DeploymentStatusBuilder {
  public static final String SCHEDULED = "Scheduled";
  public static final String READY = "Ready";

  private final Clock clock;

  public DeploymentStatusBuilder(Clock clock) {
    this.clock = clock;
  }

  /**
   * @param cluster the referenced NdifCluster, or null when it does not exist
   */
  public NdifDeploymentStatus build(NdifDeployment deployment, NdifCluster cluster) {
    var spec = deployment.getSpec();
    var previous = deployment.getStatus();
    var status = new NdifDeploymentStatus();
    status.observedGeneration = deployment.getMetadata().getGeneration();
    status.modelKey = ModelKeys.of(spec.model);
    status.replicas = ClusterPlanning.reservedReplicas(spec);
    status.readyReplicas = 0;
    status.replicaSummary = "0/" + status.replicas;
    var conditions =
        new Conditions(
            previous == null ? null : previous.conditions,
            deployment.getMetadata().getGeneration(),
            clock);
    String ns = deployment.getMetadata().getNamespace();
    if (spec.isolation == Isolation.Dedicated) {
      conditions.set(
          SCHEDULED,
          Conditions.UNKNOWN,
          "DedicatedNotImplemented",
          "Dedicated deployments (a RayService of their own) are not supported by this version");
    } else if (cluster == null) {
      conditions.set(
          SCHEDULED,
          false,
          "ClusterNotFound",
          "NdifCluster " + spec.clusterRef + " does not exist in namespace " + ns);
    } else {
      var placement = placementOf(cluster, deployment.getMetadata().getName());
      if (placement == null) {
        conditions.set(
            SCHEDULED,
            Conditions.UNKNOWN,
            "Planning",
            "waiting for NdifCluster " + spec.clusterRef + " to plan this deployment");
      } else {
        status.pool = placement.pool;
        status.gpusPerReplica = placement.gpusPerReplica;
        status.sizeBytes = placement.sizeBytes;
        boolean admitted = Boolean.TRUE.equals(placement.admitted);
        conditions.set(SCHEDULED, admitted, placement.reason, placement.message);
      }
    }
    boolean scheduled = Conditions.isTrue(conditions.build(), SCHEDULED);
    conditions.set(
        READY,
        false,
        scheduled ? "ServingNotImplemented" : "NotScheduled",
        scheduled
            ? "admitted; serving it as a Ray Serve application is not implemented in this version"
            : "the deployment has no place on its cluster yet");
    status.conditions = conditions.build();
    return status;
  }

  private static DeploymentPlacement placementOf(NdifCluster cluster, String name) {
    if (cluster.getStatus() == null || cluster.getStatus().deployments == null) {
      return null;
    }
    return cluster.getStatus().deployments.stream()
        .filter(p -> name.equals(p.name))
        .findFirst()
        .orElse(null);
  }

  /** Reasons that mean the deployment lost its place to another. */
  static boolean wasPreempted(NdifDeploymentStatus status) {
    return status != null
        && Decision.PREEMPTED.equals(Conditions.reason(status.conditions, SCHEDULED));
  }
}
