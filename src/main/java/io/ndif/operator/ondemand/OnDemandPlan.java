package io.ndif.operator.ondemand;

import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifClusterStatus.DeploymentPlacement;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.OnDemandSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What the operator does for on-demand models at one instant, from the gateway's demand and the
 * cluster's plan: which models to deploy, which idle deployments to delete, what to tell the jobs
 * that wait. Pure: the same inputs give the same decisions, so a restart decides the same.
 */
public final class OnDemandPlan {
  /**
   * A last use is written down when it moved by at least this much: steady traffic writes little.
   */
  static final Duration LAST_USED_STEP = Duration.ofSeconds(60);

  /** What the gateway tells the jobs waiting for a model. */
  public record State(String phase, String message) {}

  public record Removal(String name, String repoId, Duration idle) {}

  /**
   * @param create repository ids to deploy
   * @param delete idle on-demand deployments
   * @param lastUsed on-demand deployments whose last use moved, with it
   * @param states what the jobs waiting for each repository id are told
   */
  public record Actions(
      List<String> create,
      List<Removal> delete,
      Map<String, Instant> lastUsed,
      Map<String, State> states) {}

  private OnDemandPlan() {}

  public static boolean isOnDemand(NdifDeployment d) {
    var labels = d.getMetadata().getLabels();
    return labels != null && "true".equals(labels.get(Constants.LABEL_ON_DEMAND));
  }

  /**
   * @param deployments the Shared deployments of the cluster
   * @param placements the cluster's plan, by deployment name
   */
  public static Actions decide(
      OnDemandSpec spec,
      Collection<NdifDeployment> deployments,
      GatewayDemand demand,
      Map<String, DeploymentPlacement> placements,
      Instant now) {
    Map<String, NdifDeployment> byRepo = new LinkedHashMap<>();
    List<NdifDeployment> onDemand = new ArrayList<>();
    for (NdifDeployment d : deployments) {
      if (d.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      byRepo.putIfAbsent(d.getSpec().model.repoId, d);
      if (isOnDemand(d)) {
        onDemand.add(d);
      }
    }
    double heldGpus =
        onDemand.stream()
            .map(d -> placements.get(d.getMetadata().getName()))
            .filter(p -> p != null && Boolean.TRUE.equals(p.admitted) && p.gpusPerReplica != null)
            .mapToDouble(p -> p.gpusPerReplica * (p.replicas == null ? 1 : p.replicas))
            .sum();

    List<String> create = new ArrayList<>();
    Map<String, State> states = new LinkedHashMap<>();
    int count = onDemand.size();
    for (var entry : demand.waiting().entrySet()) {
      String repo = entry.getKey();
      var existing = byRepo.get(repo);
      if (existing != null) {
        states.put(repo, stateOf(existing, placements.get(existing.getMetadata().getName())));
        continue;
      }
      if (AllowList.match(spec, repo).isEmpty()) {
        states.put(repo, new State("Refused", "this cluster does not deploy it on demand"));
        continue;
      }
      if (count >= spec.maxDeploymentsOrDefault()) {
        states.put(
            repo,
            new State(
                "Waiting",
                "the cluster's limit of "
                    + spec.maxDeploymentsOrDefault()
                    + " on-demand deployments is reached; it is deployed when one idles out"));
        continue;
      }
      if (spec.maxGpus != null && heldGpus >= spec.maxGpus) {
        states.put(
            repo,
            new State(
                "Waiting",
                "on-demand deployments hold "
                    + trim(heldGpus)
                    + " of the cluster's "
                    + trim(spec.maxGpus)
                    + " on-demand GPUs; it is deployed when one idles out"));
        continue;
      }
      create.add(repo);
      count++;
      states.put(repo, new State("Creating", "the operator is creating its NdifDeployment"));
    }

    List<Removal> delete = new ArrayList<>();
    Map<String, Instant> lastUsed = new LinkedHashMap<>();
    Duration idleLimit = Duration.ofSeconds(spec.idleSecondsOrDefault());
    for (NdifDeployment d : onDemand) {
      String repo = d.getSpec().model.repoId;
      Instant written = annotated(d);
      Instant reported = demand.used().get(repo);
      if (reported != null
          && (written == null || !reported.isBefore(written.plus(LAST_USED_STEP)))) {
        lastUsed.put(d.getMetadata().getName(), reported);
      }
      Instant last = latest(created(d, now), written, reported);
      boolean busy =
          demand.active().getOrDefault(repo, 0) > 0 || demand.waiting().containsKey(repo);
      Duration idle = Duration.between(last, now);
      if (!busy && idle.compareTo(idleLimit) >= 0) {
        delete.add(new Removal(d.getMetadata().getName(), repo, idle));
      }
    }
    return new Actions(create, delete, lastUsed, states);
  }

  static State stateOf(NdifDeployment d, DeploymentPlacement placement) {
    if (placement == null) {
      return new State("Planning", "NdifDeployment " + d.getMetadata().getName() + " is planned");
    }
    if (Boolean.TRUE.equals(placement.admitted)) {
      return new State(
          "Deploying",
          "NdifDeployment "
              + d.getMetadata().getName()
              + " is admitted to pool "
              + placement.pool
              + " and its replica is starting");
    }
    return new State(
        placement.reason == null ? "Pending" : placement.reason,
        placement.message == null ? "waiting for a place" : placement.message);
  }

  private static Instant annotated(NdifDeployment d) {
    var annotations = d.getMetadata().getAnnotations();
    String value = annotations == null ? null : annotations.get(Constants.ANNOTATION_LAST_USED);
    try {
      return value == null ? null : Instant.parse(value);
    } catch (java.time.format.DateTimeParseException e) {
      return null;
    }
  }

  private static Instant created(NdifDeployment d, Instant now) {
    String created = d.getMetadata().getCreationTimestamp();
    return created == null ? now : Instant.parse(created);
  }

  private static Instant latest(Instant... instants) {
    Instant latest = null;
    for (Instant i : instants) {
      if (i != null && (latest == null || i.isAfter(latest))) {
        latest = i;
      }
    }
    return latest;
  }

  private static String trim(double value) {
    return value == Math.rint(value) ? String.valueOf((long) value) : String.valueOf(value);
  }
}
