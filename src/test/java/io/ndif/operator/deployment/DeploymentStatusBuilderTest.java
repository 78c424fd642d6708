package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.cluster.ServeSync;
import io.ndif.operator.observability.Conditions;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeploymentStatusBuilderTest {
  private final DeploymentStatusBuilder builder = new DeploymentStatusBuilder(Clock.systemUTC());

  @Test
  void aMissingClusterIsExplained() {
    var status = builder.build(deployment(), null);
    assertThat(Conditions.reason(status.conditions, "Scheduled")).isEqualTo("ClusterNotFound");
    assertThat(Conditions.reason(status.conditions, "Ready")).isEqualTo("ClusterNotFound");
    assertThat(Conditions.isTrue(status.conditions, "Progressing")).isFalse();
  }

  @Test
  void aClusterThatHasNotPlannedYetIsProgressing() {
    var status = builder.build(deployment(), cluster(null, null));
    assertThat(Conditions.reason(status.conditions, "Scheduled")).isEqualTo("Planning");
    assertThat(Conditions.isTrue(status.conditions, "Progressing")).isTrue();
  }

  @Test
  void runningReplicasOnKnownNodesMakeItReady() {
    var status = builder.build(deployment(), cluster(placement(true), app("RUNNING", "10.0.0.1")));
    assertThat(status.pool).isEqualTo("a100");
    assertThat(status.readyReplicas).isEqualTo(1);
    assertThat(status.placements)
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.pod).isEqualTo("fleet-a100-x");
              assertThat(p.nodeName).isEqualTo("kwok-a100-0");
              assertThat(p.state).isEqualTo("RUNNING");
              assertThat(p.nodeIp).isEqualTo("10.0.0.1");
              assertThat(p.rayNodeId).isEqualTo("node-10.0.0.1");
            });
    assertThat(status.endpoint).isEqualTo("http://fleet-head-svc.ns.svc:8000/ns/gpt2");
    assertThat(Conditions.isTrue(status.conditions, "Ready")).isTrue();
    assertThat(Conditions.isTrue(status.conditions, "Progressing")).isFalse();
    assertThat(Conditions.isTrue(status.conditions, "Degraded")).isFalse();
  }

  @Test
  void aFailedDeployIsDegradedAndAnEvent() {
    var before = builder.build(deployment(), cluster(placement(true), app("DEPLOYING", null)));
    assertThat(Conditions.isTrue(before.conditions, "Progressing")).isTrue();
    var d = deployment();
    d.setStatus(before);
    var after = builder.build(d, cluster(placement(true), app("DEPLOY_FAILED", null)));
    assertThat(Conditions.reason(after.conditions, "Ready")).isEqualTo("DeployFailed");
    assertThat(Conditions.isTrue(after.conditions, "Degraded")).isTrue();
    assertThat(DeploymentEvents.between(before, after))
        .extracting(DeploymentEvents.Event::reason)
        .containsExactly("DeployFailed");
  }

  @Test
  void aNameRayServesForAnotherIsDegradedWithTheReason() {
    var taken = app(ServeSync.NAME_TAKEN, null);
    taken.route = null;
    taken.message = "Ray already serves an application named gpt2 that is not this deployment's";
    var status = builder.build(deployment(), cluster(placement(true), taken));
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("NameTaken");
    assertThat(degraded.getMessage()).isEqualTo(taken.message);
    assertThat(Conditions.reason(status.conditions, "Ready")).isEqualTo("NameTaken");
    assertThat(status.endpoint).isNull();
  }

  @Test
  void waitingForCapacityCarriesThePlansReasonToReady() {
    var status = builder.build(deployment(), cluster(placement(false), null));
    assertThat(Conditions.reason(status.conditions, "Scheduled")).isEqualTo("InsufficientCapacity");
    assertThat(Conditions.reason(status.conditions, "Ready")).isEqualTo("InsufficientCapacity");
    assertThat(Conditions.find(status.conditions, "Ready").get().getMessage())
        .isEqualTo("needs more");
  }

  @Test
  void aDeploymentOutsideItsClustersPolicyIsDegradedNamingTheRule() {
    var denied = placement(false);
    denied.pool = null;
    denied.reason = "PolicyDenied";
    denied.message = "serve.importPath x:y is not in the cluster's policy.allowedImportPaths";
    var status = builder.build(deployment(), cluster(denied, null));
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("PolicyDenied");
    assertThat(degraded.getMessage()).isEqualTo(denied.message);
    assertThat(Conditions.reason(status.conditions, "Ready")).isEqualTo("PolicyDenied");
    assertThat(Conditions.isTrue(status.conditions, "Progressing")).isFalse();
    assertThat(status.endpoint).isNull();
  }

  @Test
  void aDedicatedWorkerThatCannotPullItsImageIsDegradedNamingThePod() {
    var pod =
        dedicatedWorker("solo-a100-x", "ImagePullBackOff", "Back-off pulling image \"ray:typo\"");
    var status = builder.build(dedicated(), null, startingRayService(), null, List.of(pod));
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("True");
    assertThat(degraded.getReason()).isEqualTo("PodFailing");
    assertThat(degraded.getMessage())
        .isEqualTo(
            "Ray pod solo-a100-x is failing: container ray: ImagePullBackOff: Back-off pulling"
                + " image \"ray:typo\"");
    assertThat(status.placements).extracting(p -> p.state).containsExactly("ImagePullBackOff");
  }

  @Test
  void aStartingDedicatedWorkerIsNotDegraded() {
    var pod = dedicatedWorker("solo-a100-x", "ContainerCreating", null);
    var status = builder.build(dedicated(), null, startingRayService(), null, List.of(pod));
    var degraded = Conditions.find(status.conditions, "Degraded").get();
    assertThat(degraded.getStatus()).isEqualTo("False");
    assertThat(degraded.getReason()).isEqualTo("Deploying");
    assertThat(status.placements).extracting(p -> p.state).containsExactly("Pending");
  }

  private static NdifDeployment dedicated() {
    var d = new NdifDeployment();
    d.setMetadata(
        new ObjectMetaBuilder().withName("solo").withNamespace("ns").withGeneration(1L).build());
    d.setSpec(
        Serialization.unmarshal(
            """
            isolation: Dedicated
            model: {repoId: org/solo, sizeBytes: 10Gi}
            dedicated:
              pool: {name: a100, gpusPerNode: 8, gpuMemory: 80Gi}
            """,
            NdifDeploymentSpec.class));
    return d;
  }

  private static GenericKubernetesResource startingRayService() {
    var rayService = new GenericKubernetesResource();
    rayService.setAdditionalProperty("status", Map.of());
    return rayService;
  }

  private static Pod dedicatedWorker(String name, String waitingReason, String message) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("ns")
        .withLabels(Map.of("ray.io/node-type", "worker", "ndif.io/deployment", "solo"))
        .endMetadata()
        .withNewSpec()
        .withNodeName("gpu-0")
        .endSpec()
        .withNewStatus()
        .withPhase("Pending")
        .addNewContainerStatus()
        .withName("ray")
        .withNewState()
        .withNewWaiting()
        .withReason(waitingReason)
        .withMessage(message)
        .endWaiting()
        .endState()
        .endContainerStatus()
        .endStatus()
        .build();
  }

  private static NdifDeployment deployment() {
    var d = new NdifDeployment();
    d.setMetadata(
        new ObjectMetaBuilder().withName("gpt2").withNamespace("ns").withGeneration(1L).build());
    d.setSpec(
        Serialization.unmarshal(
            "clusterRef: fleet\nmodel: {repoId: gpt2, sizeBytes: 1Gi}\n",
            NdifDeploymentSpec.class));
    return d;
  }

  private static NdifClusterStatus.DeploymentPlacement placement(boolean admitted) {
    var p = new NdifClusterStatus.DeploymentPlacement();
    p.name = "gpt2";
    p.admitted = admitted;
    p.pool = "a100";
    p.gpusPerReplica = 0.02;
    p.reason = admitted ? "Admitted" : "InsufficientCapacity";
    p.message = admitted ? "admitted" : "needs more";
    return p;
  }

  private static NdifClusterStatus.ServeApplication app(String state, String ip) {
    var a = new NdifClusterStatus.ServeApplication();
    a.name = "ns_gpt2";
    a.status = state;
    a.route = "/ns/gpt2";
    if (ip != null) {
      var r = new NdifClusterStatus.ServeReplica();
      r.id = "r1";
      r.state = "RUNNING";
      r.nodeIp = ip;
      r.nodeId = "node-" + ip;
      a.replicas = List.of(r);
    }
    return a;
  }

  private static NdifCluster cluster(
      NdifClusterStatus.DeploymentPlacement placement, NdifClusterStatus.ServeApplication app) {
    var c = new NdifCluster();
    c.setMetadata(new ObjectMetaBuilder().withName("fleet").withNamespace("ns").build());
    var status = new NdifClusterStatus();
    status.dashboardUrl = "http://fleet-head-svc.ns.svc:8265";
    status.serveUrl = "http://fleet-head-svc.ns.svc:8000";
    if (placement != null) {
      status.deployments = List.of(placement);
    }
    var node = new NdifClusterStatus.NodeStatus();
    node.pod = "fleet-a100-x";
    node.nodeName = "kwok-a100-0";
    node.podIP = "10.0.0.1";
    node.pool = "a100";
    status.nodes = List.of(node);
    if (app != null) {
      status.serve = new NdifClusterStatus.ServeStatus();
      status.serve.applications = List.of(app);
    }
    c.setStatus(status);
    return c;
  }
}
