package io.ndif.operator.cluster;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus.DeploymentPlacement;
import io.ndif.operator.api.NdifClusterStatus.WarmCopy;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.EventRecorder;
import io.ndif.operator.observability.EventRecorder.Type;
import io.ndif.operator.ondemand.AllowList;
import io.ndif.operator.ondemand.GatewayDemand;
import io.ndif.operator.ondemand.OnDemandDeployments;
import io.ndif.operator.ondemand.OnDemandPlan;
import io.ndif.operator.ray.ServeDashboard;
import io.ndif.operator.warm.WarmCopies;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Models deployed on demand: asks the cluster's gateway which allowed models jobs wait for (it
 * holds no Kubernetes credentials), creates their NdifDeployments, deletes idle ones, and tells the
 * gateway what became of each so its jobs hear why they wait.
 */
final class OnDemandSync {
  private static final Logger log = LoggerFactory.getLogger(OnDemandSync.class);

  /** How often the gateway is asked while on-demand is on: a job's wait starts there. */
  static final Duration POLL = Duration.ofSeconds(1);

  /** How often the gateway is asked what the nodes keep warm when nothing is deployed on demand. */
  static final Duration WARM_POLL = Duration.ofSeconds(5);

  private final Map<String, List<WarmCopy>> warm = new java.util.concurrent.ConcurrentHashMap<>();

  private final ServeDashboard dashboard;
  private final EventRecorder events;

  OnDemandSync(ServeDashboard dashboard, EventRecorder events) {
    this.dashboard = dashboard;
    this.events = events;
  }

  /**
   * @param gatewayUrl where the operator reaches the gateway (Serve's HTTP proxy)
   * @param placements the cluster's plan, by deployment name
   * @return when to ask again, or null when on-demand is off
   */
  Duration sync(
      NdifCluster cluster,
      Collection<NdifDeployment> deployments,
      List<DeploymentPlacement> placements,
      String gatewayUrl,
      String rayToken,
      KubernetesClient client,
      Instant now) {
    var spec = cluster.getSpec().onDemand;
    boolean warmTier = cluster.getSpec().warmTier != null;
    if ((spec == null && !warmTier)
        || !io.ndif.operator.api.GatewaySpec.of(cluster.getSpec()).isEnabled()) {
      warm.remove(key(cluster));
      return null;
    }
    if (spec == null) {
      // The warm tier alone: the same exchange, for what the nodes keep.
      try {
        warm.put(
            key(cluster),
            WarmCopies.parse(
                dashboard.demand(gatewayUrl, OnDemandToken.of(cluster, rayToken), Map.of())));
      } catch (ServeDashboard.DashboardException | IOException e) {
        log.info(
            "ndifcluster {}/{}: cannot read the gateway's warm copies: {}",
            cluster.getMetadata().getNamespace(),
            cluster.getMetadata().getName(),
            e.getMessage());
      }
      return WARM_POLL;
    }
    Map<String, DeploymentPlacement> byName = new LinkedHashMap<>();
    placements.forEach(p -> byName.put(p.name, p));
    var shared =
        deployments.stream()
            .filter(d -> !d.getSpec().usesDedicatedIsolation())
            .filter(d -> cluster.getMetadata().getName().equals(d.getSpec().clusterRef))
            .toList();
    // The states of the last decisions go out with this exchange: the plan is this reconcile's.
    var before = OnDemandPlan.decide(spec, shared, lastDemand(cluster), byName, now);
    GatewayDemand demand;
    try {
      String report =
          dashboard.demand(
              gatewayUrl, OnDemandToken.of(cluster, rayToken), states(before.states()));
      demand = GatewayDemand.parse(report);
      if (warmTier) {
        warm.put(key(cluster), WarmCopies.parse(report));
      }
    } catch (ServeDashboard.DashboardException | IOException e) {
      log.info(
          "ndifcluster {}/{}: cannot read the gateway's on-demand requests: {}",
          cluster.getMetadata().getNamespace(),
          cluster.getMetadata().getName(),
          e.getMessage());
      return POLL;
    }
    remember(cluster, demand);
    var actions = OnDemandPlan.decide(spec, shared, demand, byName, now);
    String namespace = cluster.getMetadata().getNamespace();
    for (String repo : actions.create()) {
      var entry = AllowList.match(spec, repo).orElseThrow();
      var deployment = OnDemandDeployments.of(cluster, repo, entry);
      try {
        client.resource(deployment).inNamespace(namespace).create();
        var waiting = demand.waiting().get(repo);
        events.record(
            cluster,
            Type.Normal,
            "OnDemandDeployed",
            "created NdifDeployment "
                + deployment.getMetadata().getName()
                + " for "
                + repo
                + ", which "
                + (waiting == null ? 0 : waiting.jobs())
                + " job(s) wait for");
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          log.warn("cannot create the on-demand deployment for {}: {}", repo, e.getMessage());
        }
      }
    }
    for (var removal : actions.delete()) {
      client
          .resources(NdifDeployment.class)
          .inNamespace(namespace)
          .withName(removal.name())
          .delete();
      events.record(
          cluster,
          Type.Normal,
          "OnDemandIdle",
          "deleted NdifDeployment "
              + removal.name()
              + " ("
              + removal.repoId()
              + "): no job used it for "
              + removal.idle().toSeconds()
              + " s");
    }
    // A merge patch of the one annotation: no resource version, so no conflict with a status
    // write, and nothing else of the deployment is touched.
    actions
        .lastUsed()
        .forEach(
            (name, at) -> {
              try {
                client
                    .resources(NdifDeployment.class)
                    .inNamespace(namespace)
                    .withName(name)
                    .patch(
                        io.fabric8.kubernetes.client.dsl.base.PatchContext.of(
                            io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
                        Serialization.asJson(
                            Map.of(
                                "metadata",
                                Map.of(
                                    "annotations",
                                    Map.of(Constants.ANNOTATION_LAST_USED, at.toString())))));
              } catch (KubernetesClientException e) {
                log.info("cannot note the last use of {}: {}", name, e.getMessage());
              }
            });
    return POLL;
  }

  /** The gateway speaks of model keys; the operator's decisions are by repository id. */
  private static Map<String, Object> states(Map<String, OnDemandPlan.State> byRepo) {
    Map<String, Object> states = new LinkedHashMap<>();
    byRepo.forEach(
        (repo, state) ->
            states.put(
                io.ndif.operator.deployment.ModelKeys.of(modelOf(repo)),
                Map.of("phase", state.phase(), "message", state.message())));
    return states;
  }

  private static io.ndif.operator.api.ModelSpec modelOf(String repo) {
    var model = new io.ndif.operator.api.ModelSpec();
    model.repoId = repo;
    return model;
  }

  /** What the cluster's nodes kept warm at the last exchange; null when the tier is off. */
  List<WarmCopy> warmCopies(NdifCluster cluster) {
    return cluster.getSpec().warmTier == null ? null : warm.getOrDefault(key(cluster), List.of());
  }

  private final Map<String, GatewayDemand> last = new java.util.concurrent.ConcurrentHashMap<>();

  private GatewayDemand lastDemand(NdifCluster cluster) {
    return last.getOrDefault(key(cluster), GatewayDemand.NONE);
  }

  private void remember(NdifCluster cluster, GatewayDemand demand) {
    last.put(key(cluster), demand);
  }

  private static String key(NdifCluster cluster) {
    return cluster.getMetadata().getNamespace() + "/" + cluster.getMetadata().getName();
  }
}
