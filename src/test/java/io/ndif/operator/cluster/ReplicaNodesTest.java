package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.ndif.operator.api.NdifClusterStatus;
import java.util.List;
import org.junit.jupiter.api.Test;

class ReplicaNodesTest {
  @Test
  void replicasLandOnTheNodeWithTheirIpWithTheirGpus() {
    var status = new NdifClusterStatus();
    status.nodes = List.of(node("w-0", "10.0.0.1"), node("w-1", "10.0.0.2"));
    status.deployments = List.of(placement("gpt2", 0.25), placement("llama", 1.0));
    status.serve = new NdifClusterStatus.ServeStatus();
    status.serve.applications =
        List.of(
            app("ns_gpt2", replica("a", "10.0.0.1"), replica("b", "10.0.0.1")),
            app("ns_llama", replica("c", "10.0.0.1")));

    ReplicaNodes.assign(status, "ns");

    assertThat(status.nodes.get(0).replicas)
        .containsExactly("ns_gpt2/a", "ns_gpt2/b", "ns_llama/c");
    assertThat(status.nodes.get(0).allocatedGpus).isEqualTo(1.5);
    assertThat(status.nodes.get(1).replicas).isNull();
    assertThat(status.nodes.get(1).allocatedGpus).isNull();
  }

  @Test
  void anExternalClustersReplicasLandOnTheRayNodeWithTheirId() {
    var status = new NdifClusterStatus();
    var a = new NdifClusterStatus.NodeStatus();
    a.rayNodeId = "n1";
    a.nodeIp = "10.0.0.1";
    var b = new NdifClusterStatus.NodeStatus();
    b.rayNodeId = "n2";
    b.nodeIp = "10.0.0.1";
    status.nodes = List.of(a, b);
    status.deployments = List.of(placement("gpt2", 0.5));
    status.serve = new NdifClusterStatus.ServeStatus();
    var onB = replica("x", "10.0.0.1");
    onB.nodeId = "n2";
    status.serve.applications = List.of(app("ns_gpt2", onB));

    ReplicaNodes.assign(status, "ns");

    assertThat(a.replicas).isNull();
    assertThat(b.replicas).containsExactly("ns_gpt2/x");
    assertThat(b.allocatedGpus).isEqualTo(0.5);
  }

  private static NdifClusterStatus.NodeStatus node(String pod, String ip) {
    var n = new NdifClusterStatus.NodeStatus();
    n.pod = pod;
    n.podIP = ip;
    return n;
  }

  private static NdifClusterStatus.DeploymentPlacement placement(String name, double gpus) {
    var p = new NdifClusterStatus.DeploymentPlacement();
    p.name = name;
    p.gpusPerReplica = gpus;
    return p;
  }

  private static NdifClusterStatus.ServeApplication app(
      String name, NdifClusterStatus.ServeReplica... replicas) {
    var a = new NdifClusterStatus.ServeApplication();
    a.name = name;
    a.replicas = List.of(replicas);
    return a;
  }

  private static NdifClusterStatus.ServeReplica replica(String id, String ip) {
    var r = new NdifClusterStatus.ServeReplica();
    r.id = id;
    r.nodeIp = ip;
    return r;
  }
}
