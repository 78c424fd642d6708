package io.ndif.operator.deployment;

import static io.ndif.operator.deployment.DeploymentStatusBuilder.DEGRADED;
import static io.ndif.operator.deployment.DeploymentStatusBuilder.READY;
import static io.ndif.operator.deployment.DeploymentStatusBuilder.SCHEDULED;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.PodTrouble;
import io.ndif.operator.ray.ServeConfigs;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** A Dedicated deployment's status, read from its RayService. */
final class DedicatedStatus {
  private DedicatedStatus() {}

  static void fill(
      NdifDeployment d,
      GenericKubernetesResource rayService,
      String applyError,
      List<Pod> pods,
      NdifDeploymentStatus status,
      Conditions conditions) {
    var pool = d.getSpec().dedicated.pool;
    var gpus = DedicatedServices.gpusPerReplica(d);
    if (gpus.isEmpty()) {
      String message =
          "the model's size is unknown: set spec.model.parameters or spec.model.sizeBytes";
      conditions.set(SCHEDULED, false, "SizeUnknown", message);
      conditions.set(READY, false, "SizeUnknown", message);
      conditions.set(DEGRADED, false, "NotServed", "the deployment is not served");
      return;
    }
    status.pool = pool.name;
    status.gpusPerReplica = gpus.getAsDouble();
    status.rayServiceName = d.getMetadata().getName();
    if (gpus.getAsDouble() > pool.gpusPerNode) {
      String message =
          "one replica needs "
              + gpus.getAsDouble()
              + " GPUs on one node but pool "
              + pool.name
              + " has "
              + pool.gpusPerNode;
      conditions.set(SCHEDULED, false, "ModelTooLarge", message);
      conditions.set(READY, false, "ModelTooLarge", message);
      conditions.set(DEGRADED, true, "ModelTooLarge", message);
      return;
    }
    conditions.set(
        SCHEDULED,
        true,
        "Dedicated",
        "runs on its own RayService " + status.rayServiceName + " (pool " + pool.name + ")");
    if (applyError != null) {
      conditions.set(READY, false, "RayServiceApplyFailed", applyError);
      conditions.set(DEGRADED, true, "RayServiceApplyFailed", applyError);
      return;
    }
    if (rayService == null) {
      conditions.set(
          READY, false, "RayServicePending", "creating RayService " + status.rayServiceName);
      conditions.set(DEGRADED, false, "RayServicePending", "creating the RayService");
      return;
    }
    // The RayService's pods by name, without those being deleted.
    List<Pod> live =
        pods.stream()
            .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
            .sorted(Comparator.comparing(p -> p.getMetadata().getName()))
            .toList();
    placements(live, status);
    String serveService =
        KubeRay.serveServiceUrl(status.rayServiceName, d.getMetadata().getNamespace());
    status.endpoint = serveService + ServeConfigs.routePrefix(d);
    status.ndifHost = DedicatedServices.gateway(d).isEnabled() ? serveService : null;
    Map<?, ?> rs = asMap(rayService.getAdditionalProperties().get("status"));
    Map<?, ?> ready = null;
    if (rs.get("conditions") instanceof java.util.List<?> list) {
      for (Object c : list) {
        if (c instanceof Map<?, ?> m && READY.equals(m.get("type"))) {
          ready = m;
        }
      }
    }
    Map<?, ?> app =
        asMap(
            asMap(asMap(rs.get("activeServiceStatus")).get("applicationStatuses"))
                .get(d.getMetadata().getName()));
    if (!app.isEmpty()) {
      var application = new NdifDeploymentStatus.Application();
      application.name = d.getMetadata().getName();
      application.status = (String) app.get("status");
      application.message = (String) app.get("message");
      application.route = ServeConfigs.routePrefix(d);
      status.application = application;
    }
    boolean serviceReady = ready != null && "True".equals(ready.get("status"));
    boolean appRunning = "RUNNING".equals(app.get("status"));
    if (serviceReady && appRunning) {
      conditions.set(READY, true, "Running", "the RayService serves the application");
      conditions.set(DEGRADED, false, "Running", "the application is running");
    } else if ("DEPLOY_FAILED".equals(app.get("status")) || "UNHEALTHY".equals(app.get("status"))) {
      String message = "Ray Serve reports " + app.get("status") + ": " + app.get("message");
      conditions.set(READY, false, "DeployFailed", message);
      conditions.set(DEGRADED, true, "DeployFailed", message);
    } else {
      String reason = ready == null ? "RayServiceInitializing" : "RayService" + ready.get("reason");
      String message =
          ready == null || ready.get("message") == null
              ? "waiting for RayService " + status.rayServiceName + " to serve"
              : String.valueOf(ready.get("message"));
      conditions.set(READY, false, reason, message);
      var trouble = firstTrouble(live);
      if (trouble.isPresent()) {
        conditions.set(DEGRADED, true, trouble.get().reason(), trouble.get().message());
      } else {
        conditions.set(DEGRADED, false, "Deploying", "the RayService is starting");
      }
    }
  }

  private record Stuck(String reason, String message) {}

  /** The first of the RayService's pods that cannot run, as a Degraded reason and message. */
  private static Optional<Stuck> firstTrouble(List<Pod> live) {
    for (Pod pod : live) {
      var trouble = PodTrouble.of(pod);
      if (trouble.isPresent()) {
        String reason =
            trouble.get().kind() == PodTrouble.Kind.UNSCHEDULABLE
                ? "PodUnschedulable"
                : "PodFailing";
        return Optional.of(
            new Stuck(
                reason, "Ray pod " + pod.getMetadata().getName() + " " + trouble.get().describe()));
      }
    }
    return Optional.empty();
  }

  /**
   * One placement per worker pod of the RayService: its node and readiness. Ray's own replica ids
   * need the dashboard, which KubeRay alone talks to for a RayService.
   */
  private static void placements(List<Pod> live, NdifDeploymentStatus status) {
    for (Pod pod : live) {
      if (!KubeRay.NODE_TYPE_WORKER.equals(
          pod.getMetadata().getLabels().get(KubeRay.LABEL_NODE_TYPE))) {
        continue;
      }
      boolean podReady = PodTrouble.isReady(pod);
      var placement = new NdifDeploymentStatus.Placement();
      placement.pod = pod.getMetadata().getName();
      placement.nodeName = pod.getSpec().getNodeName();
      placement.pool = status.pool;
      placement.state =
          podReady
              ? "PodReady"
              : PodTrouble.of(pod)
                  .map(PodTrouble.Trouble::reason)
                  .orElse(pod.getStatus() == null ? "Pending" : pod.getStatus().getPhase());
      status.placements.add(placement);
    }
  }

  private static Map<?, ?> asMap(Object value) {
    return value instanceof Map<?, ?> m ? m : Map.of();
  }
}
