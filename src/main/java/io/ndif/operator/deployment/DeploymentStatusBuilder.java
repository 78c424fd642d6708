package io.ndif.operator.deployment;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus.DeploymentPlacement;
import io.ndif.operator.api.NdifClusterStatus.NodeStatus;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec.Isolation;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.cluster.ClusterPlanning;
import io.ndif.operator.cluster.ReplicaNodes;
import io.ndif.operator.cluster.ServeSync;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.observability.GitOpsConditions;
import io.ndif.operator.placement.Decision;
import io.ndif.operator.ray.ServeConfigs;
import io.ndif.operator.schedule.PinSchedule;
import io.ndif.operator.warm.WarmCopies;
import java.time.Clock;
import java.util.List;

/**
 * An NdifDeployment's status from its cluster's placement plan. The cluster's controller decides;
 * this only reports, so two deployments never race for the same GPUs.
 */
public final class DeploymentStatusBuilder {
  public static final String SCHEDULED = "Scheduled";
  public static final String READY = "Ready";
  public static final String DEGRADED = "Degraded";
  public static final String PROGRESSING = "Progressing";

  private final Clock clock;

  public DeploymentStatusBuilder(Clock clock) {
    this.clock = clock;
  }

  /**
   * @param cluster the referenced NdifCluster, or null when it does not exist
   */
  public NdifDeploymentStatus build(NdifDeployment deployment, NdifCluster cluster) {
    return build(deployment, cluster, null, null, List.of());
  }

  /**
   * @param rayService the RayService of a Dedicated deployment, or null
   * @param applyError why the RayService could not be applied, or null
   * @param dedicatedPods the worker pods of a Dedicated deployment's RayService
   */
  public NdifDeploymentStatus build(
      NdifDeployment deployment,
      NdifCluster cluster,
      GenericKubernetesResource rayService,
      String applyError,
      List<Pod> dedicatedPods) {
    var status = observe(deployment, cluster, rayService, applyError, dedicatedPods);
    boolean running = status.readyReplicas != null && status.readyReplicas > 0;
    var warm =
        cluster == null || cluster.getStatus() == null ? null : cluster.getStatus().warmCopies;
    status.level = WarmCopies.level(running, warm, status.modelKey);
    return status;
  }

  private NdifDeploymentStatus observe(
      NdifDeployment deployment,
      NdifCluster cluster,
      GenericKubernetesResource rayService,
      String applyError,
      List<Pod> dedicatedPods) {
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
    ScheduleReport.fill(spec, PinSchedule.at(spec.schedule, clock.instant()), status, conditions);
    if (spec.isolation == Isolation.Dedicated) {
      DedicatedStatus.fill(deployment, rayService, applyError, dedicatedPods, status, conditions);
      progressing(conditions);
      GitOpsConditions.derive(conditions, STALLED);
      status.conditions = conditions.build();
      return status;
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
    var built = conditions.build();
    if (!Conditions.isTrue(built, SCHEDULED)) {
      // Not ready for want of a place: Ready carries the placement's reason for `kubectl get`.
      var scheduled = Conditions.find(built, SCHEDULED).get();
      conditions.set(READY, false, scheduled.getReason(), scheduled.getMessage());
      if (ServePolicy.DENIED.equals(scheduled.getReason())) {
        conditions.set(DEGRADED, true, ServePolicy.DENIED, scheduled.getMessage());
      } else {
        conditions.set(DEGRADED, false, "NotServed", "the deployment is not served");
      }
    } else {
      serving(deployment, cluster, status, conditions);
    }
    progressing(conditions);
    GitOpsConditions.derive(conditions, STALLED);
    status.conditions = conditions.build();
    return status;
  }

  /**
   * Progressing: work is under way towards Ready (placement pending on a plan, a deploy running).
   */
  static void progressing(Conditions conditions) {
    var built = conditions.build();
    var ready = Conditions.find(built, READY);
    String reason = ready.map(c -> c.getReason()).orElse("Unknown");
    boolean ongoing =
        PROGRESSING_REASONS.contains(reason)
            || Conditions.UNKNOWN.equals(
                Conditions.find(built, SCHEDULED).map(c -> c.getStatus()).orElse(null));
    if (Conditions.isTrue(built, READY)) {
      conditions.set(PROGRESSING, false, "Running", "every desired replica is running");
    } else if (ongoing) {
      conditions.set(PROGRESSING, true, reason, ready.map(c -> c.getMessage()).orElse(""));
    } else {
      conditions.set(
          PROGRESSING,
          false,
          reason,
          "nothing is under way: " + ready.map(c -> c.getMessage()).orElse(""));
    }
  }

  /** Not Ready for a reason only a change of the spec, or of the cluster's policy, clears. */
  private static final java.util.Set<String> STALLED =
      java.util.Set.of(
          Decision.MODEL_TOO_LARGE,
          Decision.POOL_NOT_FOUND,
          Decision.SIZE_UNKNOWN,
          ServePolicy.DENIED);

  private static final java.util.Set<String> PROGRESSING_REASONS =
      java.util.Set.of(
          "Deploying", "ReplicasStarting", "NotDeployed", "RayServicePending", "Planning");

  private static void serving(
      NdifDeployment deployment,
      NdifCluster cluster,
      NdifDeploymentStatus status,
      Conditions conditions) {
    String name = ServeConfigs.applicationName(deployment);
    var serve = cluster.getStatus().serve;
    var app =
        serve == null
            ? null
            : serve.applications.stream().filter(a -> name.equals(a.name)).findFirst().orElse(null);
    if (app == null) {
      var clusterServe = Conditions.find(cluster.getStatus().conditions, "ServeConfigApplied");
      String why =
          clusterServe
              .filter(c -> !Conditions.TRUE.equals(c.getStatus()))
              .map(c -> ": " + c.getMessage())
              .orElse("");
      conditions.set(READY, false, "NotDeployed", "the Serve application is not applied yet" + why);
      conditions.set(DEGRADED, false, "NotDeployed", "the Serve application is not applied yet");
      return;
    }
    var application = new NdifDeploymentStatus.Application();
    application.name = app.name;
    application.status = app.status;
    application.message = app.message;
    application.route = app.route;
    status.application = application;
    status.endpoint = endpoint(cluster, app.route);
    status.ndifHost = cluster.getStatus().gateway == null ? null : cluster.getStatus().gateway.url;
    List<NodeStatus> nodes =
        cluster.getStatus().nodes == null ? List.of() : cluster.getStatus().nodes;
    int running = 0;
    for (var replica : app.replicas) {
      var placement = new NdifDeploymentStatus.Placement();
      placement.replicaId = replica.id;
      placement.state = replica.state;
      placement.gpus = status.gpusPerReplica;
      placement.rayNodeId = replica.nodeId;
      placement.nodeIp = replica.nodeIp;
      var node =
          nodes.stream().filter(n -> ReplicaNodes.runsOn(n, replica)).findFirst().orElse(null);
      placement.pool = node != null ? node.pool : status.pool;
      if (node != null) {
        placement.pod = node.pod;
        placement.nodeName = node.nodeName;
      }
      status.placements.add(placement);
      if ("RUNNING".equals(replica.state)) {
        running++;
      }
    }
    status.readyReplicas = running;
    int needed = minimumReplicas(deployment);
    status.replicaSummary = running + "/" + status.replicas;
    String detail = app.message == null ? "" : ": " + app.message;
    switch (app.status == null ? "" : app.status) {
      case "RUNNING" -> {
        if (running >= needed) {
          conditions.set(READY, true, "Running", running + " replica(s) running");
        } else {
          conditions.set(
              READY, false, "ReplicasStarting", running + "/" + needed + " replicas running");
        }
        conditions.set(DEGRADED, false, "Running", "the application is running");
      }
      case "DEPLOY_FAILED" -> {
        conditions.set(
            READY, false, "DeployFailed", "Ray Serve could not deploy the application" + detail);
        conditions.set(
            DEGRADED, true, "DeployFailed", "Ray Serve could not deploy the application" + detail);
      }
      case ServeSync.NAME_TAKEN -> {
        conditions.set(READY, false, "NameTaken", app.message);
        conditions.set(DEGRADED, true, "NameTaken", app.message);
      }
      case "UNHEALTHY" -> {
        conditions.set(READY, false, "Unhealthy", "the application is unhealthy" + detail);
        conditions.set(DEGRADED, true, "Unhealthy", "the application is unhealthy" + detail);
      }
      default -> {
        conditions.set(READY, false, "Deploying", "the application is " + app.status + detail);
        conditions.set(DEGRADED, false, "Deploying", "the application is being deployed");
      }
    }
  }

  private static int minimumReplicas(NdifDeployment d) {
    var spec = d.getSpec();
    if (spec.autoscaling != null) {
      return Math.max(1, spec.autoscaling.minReplicas == null ? 1 : spec.autoscaling.minReplicas);
    }
    return spec.replicas == null ? 1 : spec.replicas;
  }

  private static String endpoint(NdifCluster cluster, String route) {
    String serve = cluster.getStatus().serveUrl;
    return serve == null || route == null ? null : serve + route;
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
