package io.ndif.operator.deployment;

import static io.ndif.operator.deployment.DeploymentStatusBuilder.DEGRADED;
import static io.ndif.operator.deployment.DeploymentStatusBuilder.READY;
import static io.ndif.operator.deployment.DeploymentStatusBuilder.SCHEDULED;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.ServeConfigs;
import java.util.Map;

/** A Dedicated deployment's status, read from its RayService. */
final class DedicatedStatus {
  private DedicatedStatus() {}

  static void fill(
      NdifDeployment d,
      GenericKubernetesResource rayService,
      String applyError,
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
    status.endpoint =
        "http://"
            + status.rayServiceName
            + "-serve-svc."
            + d.getMetadata().getNamespace()
            + ".svc:8000"
            + ServeConfigs.routePrefix(d);
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
      conditions.set(DEGRADED, false, "Deploying", "the RayService is starting");
    }
  }

  private static Map<?, ?> asMap(Object value) {
    return value instanceof Map<?, ?> m ? m : Map.of();
  }
}
