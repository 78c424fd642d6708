package io.ndif.operator.deployment;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
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
import io.ndif.operator.StatusWriter;
import io.ndif.operator.api.Constants;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.observability.EventRecorder;
import io.ndif.operator.observability.FleetMetrics;
import io.ndif.operator.observability.StatusComparison;
import io.ndif.operator.observability.Tracing;
import io.ndif.operator.ray.ApplyErrors;
import io.ndif.operator.schedule.PinSchedule;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Reports an NdifDeployment's place in its cluster's plan. */
@ControllerConfiguration(name = "ndifdeployment", fieldManager = Constants.FIELD_MANAGER)
@Workflow(
    handleExceptionsInReconciler = true,
    dependents = {
      @Dependent(
          type = RayServiceDependentResource.class,
          reconcilePrecondition = DedicatedCondition.class)
    })
public class NdifDeploymentReconciler implements Reconciler<NdifDeployment> {
  private static final Logger log = LoggerFactory.getLogger(NdifDeploymentReconciler.class);

  private final DeploymentStatusBuilder statusBuilder;
  private final EventRecorder events;

  private final FleetMetrics metrics;

  private final Tracing tracing;
  private final Clock clock;
  private final Instant started;

  /**
   * How long a deployment without status waits for its cluster's plan before "Planning" is written,
   * counted from its creation or the operator's start, whichever is later: the cluster usually
   * plans it within this time (its status change reconciles the deployment again), so the first
   * status written is the decision, one write instead of two.
   */
  static final Duration PLANNING_GRACE = Duration.ofSeconds(10);

  /** A timer may fire a little early; a window's edge is looked at just after it passed. */
  static final Duration EDGE_MARGIN = Duration.ofMillis(200);

  public NdifDeploymentReconciler(
      Clock clock, EventRecorder events, FleetMetrics metrics, Tracing tracing) {
    this.clock = clock;
    this.started = clock.instant();
    this.statusBuilder = new DeploymentStatusBuilder(clock);
    this.events = events;
    this.metrics = metrics;
    this.tracing = tracing;
  }

  @Override
  public List<EventSource<?, NdifDeployment>> prepareEventSources(
      EventSourceContext<NdifDeployment> context) {
    metrics.liveDeployments(() -> context.getPrimaryCache().list());
    var clusters =
        InformerEventSourceConfiguration.from(NdifCluster.class, NdifDeployment.class)
            .withName("clusters")
            .withPrimaryToSecondaryMapper(
                (NdifDeployment d) ->
                    d.getSpec().clusterRef == null
                        ? Set.of()
                        : Set.of(
                            new ResourceID(d.getSpec().clusterRef, d.getMetadata().getNamespace())))
            .withSecondaryToPrimaryMapper(
                cluster ->
                    context
                        .getPrimaryCache()
                        .list(cluster.getMetadata().getNamespace())
                        .filter(d -> cluster.getMetadata().getName().equals(d.getSpec().clusterRef))
                        .map(ResourceID::fromResource)
                        .collect(Collectors.toSet()))
            .build();
    // The pods of Dedicated deployments' RayServices, labelled with their deployment.
    var pods =
        InformerEventSourceConfiguration.from(Pod.class, NdifDeployment.class)
            .withName("dedicated-pods")
            .withLabelSelector(Constants.LABEL_DEPLOYMENT)
            .withSecondaryToPrimaryMapper(
                pod ->
                    Set.of(
                        new ResourceID(
                            pod.getMetadata().getLabels().get(Constants.LABEL_DEPLOYMENT),
                            pod.getMetadata().getNamespace())))
            .build();
    return List.of(
        new InformerEventSource<>(clusters, context), new InformerEventSource<>(pods, context));
  }

  @Override
  public UpdateControl<NdifDeployment> reconcile(
      NdifDeployment deployment, Context<NdifDeployment> context) {
    return tracing.reconcile("ndifdeployment", deployment, () -> traced(deployment, context));
  }

  private UpdateControl<NdifDeployment> traced(
      NdifDeployment deployment, Context<NdifDeployment> context) {
    var cluster = context.getSecondaryResource(NdifCluster.class).orElse(null);
    var rayService = context.getSecondaryResource(GenericKubernetesResource.class).orElse(null);
    String applyError =
        ApplyErrors.of(
            context.managedWorkflowAndDependentResourceContext().getWorkflowReconcileResult(),
            "RayService");
    var previous = deployment.getStatus();
    var pods = List.copyOf(context.getSecondaryResources(Pod.class));
    NdifDeploymentStatus status =
        statusBuilder.build(deployment, cluster, rayService, applyError, pods);
    boolean changed = !StatusComparison.same(previous, status);
    var grace = previous == null ? planningGraceLeft(deployment, status) : Duration.ZERO;
    if (!grace.isNegative() && !grace.isZero()) {
      return UpdateControl.<NdifDeployment>noUpdate().rescheduleAfter(grace);
    }
    metrics.deployment(
        deployment.getMetadata().getNamespace(),
        deployment.getMetadata().getName(),
        Conditions.reason(status.conditions, DeploymentStatusBuilder.READY),
        waitingSince(status));
    if (changed) {
      DeploymentEvents.between(previous, status)
          .forEach(e -> events.record(deployment, e.type(), e.reason(), e.message()));
    }
    log.info(
        "ndifdeployment {}/{}: Scheduled={} ({}), status {}",
        deployment.getMetadata().getNamespace(),
        deployment.getMetadata().getName(),
        Conditions.find(status.conditions, DeploymentStatusBuilder.SCHEDULED)
            .map(c -> c.getStatus())
            .orElse("?"),
        Conditions.reason(status.conditions, DeploymentStatusBuilder.SCHEDULED),
        changed ? "patched" : "unchanged");
    if (changed) {
      StatusWriter.write(deployment, status, NdifDeployment::new, context, tracing);
    }
    // The schedule's status changes at a window's edge, whether or not the plan does.
    return PinSchedule.at(deployment.getSpec().schedule, clock.instant())
        .untilNextEdge(clock.instant())
        .map(
            d ->
                UpdateControl.<NdifDeployment>noUpdate()
                    .rescheduleAfter(d.isNegative() ? EDGE_MARGIN : d.plus(EDGE_MARGIN)))
        .orElse(UpdateControl.noUpdate());
  }

  /** When a deployment that is not admitted began to wait: its Scheduled condition's change. */
  private static Instant waitingSince(NdifDeploymentStatus status) {
    return Conditions.find(status.conditions, DeploymentStatusBuilder.SCHEDULED)
        .filter(c -> !Conditions.TRUE.equals(c.getStatus()))
        .map(c -> c.getLastTransitionTime())
        .filter(t -> t != null && !t.isBlank())
        .map(Instant::parse)
        .orElse(null);
  }

  private Duration planningGraceLeft(NdifDeployment deployment, NdifDeploymentStatus status) {
    if (!"Planning".equals(Conditions.reason(status.conditions, DeploymentStatusBuilder.SCHEDULED))
        || deployment.getMetadata().getCreationTimestamp() == null) {
      return Duration.ZERO;
    }
    var created = Instant.parse(deployment.getMetadata().getCreationTimestamp());
    var from = created.isAfter(started) ? created : started;
    return Duration.between(clock.instant(), from.plus(PLANNING_GRACE));
  }
}
