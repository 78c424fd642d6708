package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.javaoperatorsdk.operator.api.config.informer.FieldSelector;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Workflow;
import io.javaoperatorsdk.operator.api.reconciler.dependent.Dependent;
import io.javaoperatorsdk.operator.processing.event.ResourceID;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.StatusWriter;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.observability.EventRecorder;
import io.ndif.operator.observability.FleetMetrics;
import io.ndif.operator.observability.GitOpsConditions;
import io.ndif.operator.observability.StatusComparison;
import io.ndif.operator.observability.Tracing;
import io.ndif.operator.placement.Planner;
import io.ndif.operator.ray.ApplyErrors;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.ray.KubeRayWarnings;
import io.ndif.operator.ray.ServeConfigs;
import io.ndif.operator.ray.ServeDashboard;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Observes an NdifCluster's RayCluster, pods and nodes and writes what it saw to status. */
@ControllerConfiguration(name = "ndifcluster", fieldManager = Constants.FIELD_MANAGER)
@Workflow(
    explicitInvocation = true,
    handleExceptionsInReconciler = true,
    dependents = {
      @Dependent(
          type = RayClusterDependentResource.class,
          reconcilePrecondition = NotExternalCondition.class),
      @Dependent(
          type = RayNetworkPolicyDependentResource.class,
          reconcilePrecondition = NetworkPolicyWantedCondition.class),
      @Dependent(
          type = GatewayServiceDependentResource.class,
          reconcilePrecondition = GatewayServiceWantedCondition.class)
    })
public class NdifClusterReconciler implements Reconciler<NdifCluster> {
  private static final Logger log = LoggerFactory.getLogger(NdifClusterReconciler.class);
  static final Duration RETRY_AFTER_APPLY_ERROR = Duration.ofSeconds(30);

  /** How often a plan with waiting deployments is looked at again (preemption ages in). */
  static final Duration RECHECK_PENDING = Duration.ofSeconds(60);

  /** How often a settled Serve config is read back: a managed head's restart is a pod event. */
  static final Duration RECHECK_SERVE = Duration.ofSeconds(30);

  /** An adopted head that lost its applications is only seen by asking its dashboard. */
  static final Duration RECHECK_ADOPTED_SERVE = Duration.ofSeconds(5);

  /** A dashboard that did not answer is asked again soon: a restarting head answers shortly. */
  static final Duration RETRY_DASHBOARD = Duration.ofSeconds(5);

  /** A timer may fire a little early; the edge is looked at just after it passed. */
  static final Duration EDGE_MARGIN = Duration.ofMillis(200);

  /** How often an external cluster's nodes are listed again. */
  static final Duration RECHECK_EXTERNAL_NODES = Duration.ofSeconds(30);

  private final NodeLookup nodes;
  private final EventRecorder events;
  private final ClusterStatusBuilder statusBuilder;
  private final ClusterPlanning planning;
  private final ServeSync serveSync;
  private final OnDemandSync onDemand;
  private final ServeDashboard dashboard;
  private final FleetMetrics metrics;
  private final Tracing tracing;
  private final OperatorSettings.DashboardAccess dashboardAccess;
  private final Clock clock;
  public static final String SERVE = "ServeConfigApplied";

  public NdifClusterReconciler(
      NodeLookup nodes,
      EventRecorder events,
      Clock clock,
      Duration minimumDeploymentTime,
      ServeDashboard dashboard,
      FleetMetrics metrics,
      Tracing tracing,
      OperatorSettings.DashboardAccess dashboardAccess) {
    this.dashboardAccess = dashboardAccess;
    this.serveSync = new ServeSync(dashboard);
    this.onDemand = new OnDemandSync(dashboard, events);
    this.dashboard = dashboard;
    this.metrics = metrics;
    this.tracing = tracing;
    this.nodes = nodes;
    this.events = events;
    this.clock = clock;
    this.statusBuilder = new ClusterStatusBuilder(clock);
    this.planning = new ClusterPlanning(new Planner(minimumDeploymentTime));
  }

  private final StatusPacing pacing = new StatusPacing();
  private final RayTokens tokens = new RayTokens();

  @Override
  public List<EventSource<?, NdifCluster>> prepareEventSources(
      EventSourceContext<NdifCluster> context) {
    metrics.liveClusters(() -> context.getPrimaryCache().list());
    var pods =
        InformerEventSourceConfiguration.from(Pod.class, NdifCluster.class)
            .withName("pods")
            .withLabelSelector(ClusterLabels.MANAGED_SELECTOR)
            .withSecondaryToPrimaryMapper(
                pod -> {
                  String cluster = pod.getMetadata().getLabels().get(Constants.LABEL_CLUSTER);
                  return cluster == null
                      ? Set.of()
                      : Set.of(new ResourceID(cluster, pod.getMetadata().getNamespace()));
                })
            .build();
    var deployments =
        InformerEventSourceConfiguration.from(NdifDeployment.class, NdifCluster.class)
            .withName("deployments")
            .withSecondaryToPrimaryMapper(
                d ->
                    d.getSpec().clusterRef == null || d.getSpec().usesDedicatedIsolation()
                        ? Set.of()
                        : Set.of(
                            new ResourceID(d.getSpec().clusterRef, d.getMetadata().getNamespace())))
            // The plan reads deployments' spec and metadata, never their status: a deployment's
            // own status write (a thousand of them after one plan) does not re-plan its cluster.
            .withOnUpdateFilter(NdifClusterReconciler::specOrMetadataChanged)
            .build();
    // KubeRay refuses an invalid RayCluster spec with a Warning event only: those are watched too.
    var rayClusterEvents =
        InformerEventSourceConfiguration.from(Event.class, NdifCluster.class)
            .withName("rayclusterEvents")
            .withFieldSelector(
                new FieldSelector(new FieldSelector.Field("involvedObject.kind", "RayCluster")))
            .withSecondaryToPrimaryMapper(
                e ->
                    e.getInvolvedObject() == null || e.getInvolvedObject().getName() == null
                        ? Set.of()
                        : Set.of(
                            new ResourceID(
                                e.getInvolvedObject().getName(), e.getMetadata().getNamespace())))
            .build();
    return List.of(
        new InformerEventSource<>(pods, context),
        new InformerEventSource<>(deployments, context),
        new InformerEventSource<>(rayClusterEvents, context));
  }

  @Override
  public UpdateControl<NdifCluster> reconcile(NdifCluster cluster, Context<NdifCluster> context) {
    return tracing.reconcile("ndifcluster", cluster, () -> traced(cluster, context));
  }

  private UpdateControl<NdifCluster> traced(NdifCluster cluster, Context<NdifCluster> context) {
    String key = cluster.getMetadata().getNamespace() + "/" + cluster.getMetadata().getName();
    var wait = pacing.waitBefore(key, clock.instant());
    if (!wait.isZero()) {
      return UpdateControl.<NdifCluster>noUpdate().rescheduleAfter(wait);
    }
    var plan =
        planning.plan(
            cluster, context.getSecondaryResources(NdifDeployment.class), clock.instant());
    var workflow = context.managedWorkflowAndDependentResourceContext();
    workflow.put(ClusterObservation.PLANNED_NODES, plan.plannedNodes());
    // Observe and validate before acting: a template override that conflicts with what the
    // operator sets leaves the RayCluster as it is, running, until the spec is fixed.
    List<String> conflicts =
        cluster.getSpec().usesExternalCluster() ? List.of() : RayClusterSpecs.conflicts(cluster);
    String applyError =
        conflicts.isEmpty()
            ? ApplyErrors.of(Optional.of(workflow.reconcileManagedWorkflow()), "RayCluster")
            : null;
    List<Pod> pods = List.copyOf(context.getSecondaryResources(Pod.class));
    var rayCluster = context.getSecondaryResource(GenericKubernetesResource.class).orElse(null);
    var observation =
        new ClusterObservation(
            rayCluster,
            pods,
            nodes.byName(pods.stream().map(p -> p.getSpec().getNodeName()).toList()),
            applyError,
            plan,
            cluster.getSpec().usesExternalCluster() ? rayNodes(cluster, context) : null,
            conflicts,
            KubeRayWarnings.standing(
                context.getSecondaryResources(Event.class), rayCluster, Constants.FIELD_MANAGER));
    NdifClusterStatus status = statusBuilder.build(cluster, observation);
    Duration poll = syncServe(cluster, status, plan, context);
    boolean changed = !StatusComparison.same(cluster.getStatus(), status);
    metrics.cluster(cluster.getMetadata().getNamespace(), cluster.getMetadata().getName(), status);
    if (changed) {
      ClusterEvents.record(events, cluster, ClusterEvents.between(cluster.getStatus(), status));
    }
    log.info(
        "ndifcluster {}/{}: Ready={} ({}), nodes {}, status {}",
        cluster.getMetadata().getNamespace(),
        cluster.getMetadata().getName(),
        Conditions.find(status.conditions, ClusterStatusBuilder.READY)
            .map(c -> c.getStatus())
            .orElse("?"),
        Conditions.reason(status.conditions, ClusterStatusBuilder.READY),
        status.nodeSummary,
        changed ? "patched" : "unchanged");
    if (changed) {
      StatusWriter.write(cluster, status, NdifCluster::new, context, tracing);
      pacing.wrote(key, clock.instant());
    }
    UpdateControl<NdifCluster> control = UpdateControl.noUpdate();
    if (applyError != null) {
      return control.rescheduleAfter(RETRY_AFTER_APPLY_ERROR);
    }
    boolean waiting = plan.placements().stream().anyMatch(p -> !Boolean.TRUE.equals(p.admitted));
    if (waiting && (poll == null || poll.compareTo(RECHECK_PENDING) > 0)) {
      poll = RECHECK_PENDING;
    }
    // No event tells of an external cluster's nodes coming and going: Ray is asked again.
    if (cluster.getSpec().usesExternalCluster()
        && (poll == null || poll.compareTo(RECHECK_EXTERNAL_NODES) > 0)) {
      poll = RECHECK_EXTERNAL_NODES;
    }
    // A schedule window's edge is acted on when it comes, not found by polling.
    var edge = plan.nextScheduleEdge();
    if (edge != null) {
      var untilEdge = Duration.between(clock.instant(), edge).plus(EDGE_MARGIN);
      if (poll == null || untilEdge.compareTo(poll) < 0) {
        poll = untilEdge.isNegative() ? EDGE_MARGIN : untilEdge;
      }
    }
    return poll == null ? control : control.rescheduleAfter(poll);
  }

  static boolean specOrMetadataChanged(NdifDeployment now, NdifDeployment before) {
    var a = now.getMetadata();
    var b = before.getMetadata();
    return !java.util.Objects.equals(a.getGeneration(), b.getGeneration())
        || !java.util.Objects.equals(a.getLabels(), b.getLabels())
        || !java.util.Objects.equals(a.getAnnotations(), b.getAnnotations())
        || !java.util.Objects.equals(a.getDeletionTimestamp(), b.getDeletionTimestamp());
  }

  private ClusterObservation.RayNodes rayNodes(NdifCluster cluster, Context<NdifCluster> context) {
    var secret = RayAuth.tokenSecret(cluster, RayAuth.Effective.OFF);
    String namespace = cluster.getMetadata().getNamespace();
    try {
      return new ClusterObservation.RayNodes(
          dashboard.aliveNodes(
              cluster.getSpec().external.dashboardUrl,
              tokens.token(context.getClient(), namespace, secret)),
          null);
    } catch (ServeDashboard.DashboardException e) {
      if (e.refusedToken()) {
        tokens.forget(namespace, secret);
      }
      return new ClusterObservation.RayNodes(List.of(), e.getMessage());
    }
  }

  /**
   * Applies and reads the Serve config once the dashboard can answer, and says when to look again:
   * Ray reports replica states only when asked.
   */
  private Duration syncServe(
      NdifCluster cluster,
      NdifClusterStatus status,
      ClusterPlanning.Result plan,
      Context<NdifCluster> context) {
    var previous = cluster.getStatus() == null ? null : cluster.getStatus().serve;
    status.serve = previous;
    var byName = new LinkedHashMap<String, NdifDeployment>();
    context
        .getSecondaryResources(NdifDeployment.class)
        .forEach(d -> byName.put(d.getMetadata().getName(), d));
    var admitted =
        plan.placements().stream()
            .filter(p -> Boolean.TRUE.equals(p.admitted) && byName.containsKey(p.name))
            .map(p -> new ServeConfigs.Admitted(byName.get(p.name), p.pool, p.gpusPerReplica))
            .toList();
    var conditions =
        new Conditions(
                cluster.getStatus() == null ? null : cluster.getStatus().conditions,
                cluster.getMetadata().getGeneration(),
                clock)
            .keep(status.conditions);
    boolean reachable =
        cluster.getSpec().usesExternalCluster()
            || (status.head != null && Boolean.TRUE.equals(status.head.ready));
    Duration poll = null;
    String serveError = null;
    if (!reachable) {
      conditions.set(SERVE, Conditions.UNKNOWN, "WaitingForHead", "the Ray head is not ready");
    } else {
      var secret =
          RayAuth.tokenSecret(
              cluster, RayAuth.effective(cluster, context.getSecondaryResources(Pod.class)));
      String namespace = cluster.getMetadata().getNamespace();
      String rayToken = tokens.token(context.getClient(), namespace, secret);
      var result =
          serveSync.sync(
              callUrl(cluster, status, context),
              rayToken,
              ServeConfigs.owner(
                  cluster.getMetadata().getNamespace(), cluster.getMetadata().getName()),
              admitted,
              ClusterGateway.application(
                  cluster,
                  GatewayPlacement.pinned(cluster, context.getSecondaryResources(Pod.class)),
                  rayToken),
              previous);
      serveError = result.error();
      if (result.refusedToken()) {
        tokens.forget(namespace, secret);
      }
      status.serve = result.serve();
      if (result.error() != null) {
        conditions.set(SERVE, false, "DashboardUnreachable", result.error());
        poll = RETRY_DASHBOARD;
      } else if (status.serve == null) {
        conditions.set(SERVE, true, "NothingToServe", "no deployment is admitted, no gateway");
      } else {
        conditions.set(
            SERVE,
            true,
            "Applied",
            status.serve.applications.size() + " application(s) in the Serve config");
        // A restarted managed head is a pod event; an adopted head's restart is seen only by
        // asking, so adopted clusters are asked often enough to put a lost config back quickly.
        poll =
            !result.settled()
                ? Duration.ofSeconds(5)
                : cluster.getSpec().usesExternalCluster() ? RECHECK_ADOPTED_SERVE : RECHECK_SERVE;
        var onDemandPoll =
            onDemand.sync(
                cluster,
                context.getSecondaryResources(NdifDeployment.class),
                plan.placements(),
                gatewayCallUrl(cluster, status, context),
                rayToken,
                context.getClient(),
                clock.instant());
        if (onDemandPoll != null && onDemandPoll.compareTo(poll) < 0) {
          poll = onDemandPoll;
        }
        status.warmCopies = onDemand.warmCopies(cluster);
      }
    }
    ClusterGateway.build(cluster, status, conditions, reachable, serveError);
    RayAuth.condition(
        cluster, RayAuth.effective(cluster, context.getSecondaryResources(Pod.class)), conditions);
    // The last change of the cluster's conditions (the gateway may turn Ready Unknown): kstatus'
    // conditions are derived from the final ones.
    GitOpsConditions.derive(conditions, Set.of());
    status.conditions = conditions.build();
    ReplicaNodes.assign(status, cluster.getMetadata().getNamespace());
    return poll;
  }

  /** Where the gateway (Serve's HTTP proxy) is called, as the dashboard is. */
  private String gatewayCallUrl(
      NdifCluster cluster, NdifClusterStatus status, Context<NdifCluster> context) {
    if (cluster.getSpec().usesExternalCluster()) {
      return cluster.getSpec().external.serveUrl;
    }
    if (dashboardAccess == OperatorSettings.DashboardAccess.SERVICE) {
      return KubeRay.serveServiceUrl(
          cluster.getMetadata().getName(), cluster.getMetadata().getNamespace());
    }
    return ServeDashboard.proxyUrl(
        context.getClient().getConfiguration().getMasterUrl(),
        cluster.getMetadata().getNamespace(),
        KubeRay.headServiceName(cluster.getMetadata().getName()),
        KubeRay.SERVE_PORT);
  }

  /** Where the dashboard is called: as shown in status, or through the API server's proxy. */
  private String callUrl(
      NdifCluster cluster, NdifClusterStatus status, Context<NdifCluster> context) {
    if (cluster.getSpec().usesExternalCluster()
        || dashboardAccess == OperatorSettings.DashboardAccess.SERVICE) {
      return status.dashboardUrl;
    }
    return ServeDashboard.proxyUrl(
        context.getClient().getConfiguration().getMasterUrl(),
        cluster.getMetadata().getNamespace(),
        KubeRay.headServiceName(cluster.getMetadata().getName()));
  }
}
