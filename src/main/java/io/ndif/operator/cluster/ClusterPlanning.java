package io.ndif.operator.cluster;

import io.ndif.operator.api.AutoscalingMode;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus.DeploymentPlacement;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.PoolSpec;
import io.ndif.operator.api.Quantities;
import io.ndif.operator.api.ServePolicySpec;
import io.ndif.operator.deployment.DeploymentSizes;
import io.ndif.operator.deployment.ModelKeys;
import io.ndif.operator.deployment.ServePolicy;
import io.ndif.operator.placement.Decision;
import io.ndif.operator.placement.Demand;
import io.ndif.operator.placement.Plan;
import io.ndif.operator.placement.Planner;
import io.ndif.operator.placement.PoolCapacity;
import io.ndif.operator.schedule.PinSchedule;
import io.ndif.operator.warm.WarmCopies;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns an NdifCluster, its Shared NdifDeployments and the plan stored in its status into planner
 * inputs, and the plan back into status entries. The stored plan is the only memory: a restarted
 * operator reads it back and decides the same.
 */
public final class ClusterPlanning {
  private final Planner planner;

  public ClusterPlanning(Planner planner) {
    this.planner = planner;
  }

  /**
   * @param nextScheduleEdge the next instant a deployment's schedule window opens or closes, or
   *     null when none will
   */
  public record Result(Plan plan, List<DeploymentPlacement> placements, Instant nextScheduleEdge) {
    /** Nodes per pool that the admitted deployments need. */
    public Map<String, Integer> plannedNodes() {
      Map<String, Integer> nodes = new LinkedHashMap<>();
      plan.pools().forEach((name, pool) -> nodes.put(name, pool.desiredNodes()));
      return nodes;
    }
  }

  public Result plan(NdifCluster cluster, Collection<NdifDeployment> deployments, Instant now) {
    Map<String, DeploymentPlacement> previous = new LinkedHashMap<>();
    if (cluster.getStatus() != null && cluster.getStatus().deployments != null) {
      cluster.getStatus().deployments.forEach(p -> previous.put(p.name, p));
    }
    List<Demand> demands = new ArrayList<>();
    Map<String, Demand> byId = new LinkedHashMap<>();
    List<DeploymentPlacement> denied = new ArrayList<>();
    Map<String, java.util.Set<String>> warmPools = new LinkedHashMap<>();
    Instant nextEdge = null;
    var policy = ServePolicySpec.of(cluster.getSpec());
    for (NdifDeployment d : deployments) {
      if (d.getMetadata().getDeletionTimestamp() != null || d.getSpec().usesDedicatedIsolation()) {
        continue;
      }
      // Outside the owner's policy: not planned, so it holds no GPUs and is never served.
      var violations = ServePolicy.violations(policy, d.getSpec());
      if (!violations.isEmpty()) {
        var entry = new DeploymentPlacement();
        entry.name = d.getMetadata().getName();
        entry.admitted = false;
        entry.replicas = reservedReplicas(d.getSpec());
        entry.reason = ServePolicy.DENIED;
        entry.message = String.join("; ", violations);
        denied.add(entry);
        continue;
      }
      var schedule = PinSchedule.at(d.getSpec().schedule, now);
      if (schedule.nextEdge() != null
          && (nextEdge == null || schedule.nextEdge().isBefore(nextEdge))) {
        nextEdge = schedule.nextEdge();
      }
      var demand = demand(d, schedule, previous.get(d.getMetadata().getName()), now);
      demands.add(demand);
      byId.put(demand.id(), demand);
      var pools =
          WarmCopies.poolsOf(
              cluster.getStatus() == null ? null : cluster.getStatus().warmCopies,
              ModelKeys.of(d.getSpec().model));
      if (!pools.isEmpty()) {
        warmPools.put(demand.id(), pools);
      }
    }
    Plan plan = planner.plan(capacities(cluster), demands, now, warmPools);
    List<DeploymentPlacement> placements = new ArrayList<>();
    for (Decision decision : plan.decisions().values()) {
      var entry = new DeploymentPlacement();
      entry.name = decision.id();
      entry.admitted = decision.admitted();
      entry.pool = decision.pool();
      entry.gpusPerReplica = decision.gpusPerReplica();
      entry.replicas = byId.get(decision.id()).replicas();
      entry.sizeBytes = byId.get(decision.id()).sizeBytes();
      var before = previous.get(decision.id());
      if (decision.admitted()) {
        boolean sameAdmission =
            before != null
                && Boolean.TRUE.equals(before.admitted)
                && decision.pool().equals(before.pool);
        entry.admittedAt =
            sameAdmission && before.admittedAt != null ? before.admittedAt : now.toString();
      }
      entry.reason = decision.reason();
      entry.message = decision.message();
      placements.add(entry);
    }
    denied.sort(java.util.Comparator.comparing(p -> p.name));
    placements.addAll(denied);
    return new Result(plan, placements, nextEdge);
  }

  static List<PoolCapacity> capacities(NdifCluster cluster) {
    var mode = cluster.getSpec().autoscalingMode();
    List<PoolCapacity> pools = new ArrayList<>();
    for (PoolSpec pool : cluster.getSpec().pools) {
      int nodes =
          mode == AutoscalingMode.Disabled ? pool.nodesOrDefault() : pool.maxNodesOrDefault();
      int min = mode == AutoscalingMode.Disabled ? pool.nodesOrDefault() : pool.minNodesOrDefault();
      pools.add(
          new PoolCapacity(
              pool.name, pool.gpusPerNode, Quantities.bytes(pool.gpuMemory), nodes, min));
    }
    return pools;
  }

  private static Demand demand(
      NdifDeployment d, PinSchedule.State schedule, DeploymentPlacement before, Instant now) {
    var spec = d.getSpec();
    var size = DeploymentSizes.bytes(spec);
    boolean wasAdmitted = before != null && Boolean.TRUE.equals(before.admitted);
    return new Demand(
        d.getMetadata().getName(),
        schedule.priority(spec.priority == null ? 0 : spec.priority),
        created(d, now),
        schedule.pinned(Boolean.TRUE.equals(spec.pinned)),
        size.isPresent() ? size.getAsLong() : null,
        spec.resources == null ? null : spec.resources.gpus,
        spec.placement == null ? null : spec.placement.pool,
        reservedReplicas(spec),
        wasAdmitted ? before.pool : null,
        wasAdmitted && before.admittedAt != null ? Instant.parse(before.admittedAt) : null,
        before == null || wasAdmitted ? null : before.reason,
        before == null || wasAdmitted ? null : before.message);
  }

  /** Replicas whose GPUs are reserved: the most an autoscaled deployment may run. */
  public static int reservedReplicas(NdifDeploymentSpec spec) {
    if (spec.autoscaling != null) {
      if (spec.autoscaling.maxReplicas != null) {
        return spec.autoscaling.maxReplicas;
      }
      if (spec.autoscaling.minReplicas != null) {
        return Math.max(1, spec.autoscaling.minReplicas);
      }
    }
    return spec.replicas == null ? 1 : spec.replicas;
  }

  private static Instant created(NdifDeployment d, Instant now) {
    String created = d.getMetadata().getCreationTimestamp();
    return created == null ? now : Instant.parse(created);
  }
}
