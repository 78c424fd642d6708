package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.kubernetes.api.model.Condition;
import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class NdifClusterStatus {
  @JsonPropertyDescription("Generation of the spec this status describes.")
  public Long observedGeneration;

  @JsonPropertyDescription("Ready, Progressing and Degraded, with reasons.")
  public List<Condition> conditions = new ArrayList<>();

  @JsonPropertyDescription("Name of the KubeRay RayCluster (absent for an external cluster).")
  public String rayClusterName;

  @JsonPropertyDescription("Ray dashboard address the operator talks to.")
  public String dashboardUrl;

  @JsonPropertyDescription(
      "Base URL of Ray Serve's HTTP proxy; applications' endpoints start here.")
  public String serveUrl;

  @JsonPropertyDescription("The Ray head.")
  public HeadStatus head;

  @JsonPropertyDescription("Ready and desired worker nodes, e.g. 3/4.")
  public String nodeSummary;

  @JsonPropertyDescription("Per pool: nodes and GPUs.")
  public List<PoolStatus> pools = new ArrayList<>();

  @JsonPropertyDescription(
      "Every worker node (Ray worker pod) with its Kubernetes node and GPUs; for an external"
          + " cluster, every live Ray node as Ray reports it.")
  public List<NodeStatus> nodes = new ArrayList<>();

  @JsonPropertyDescription("Totals over all pools.")
  public Totals totals;

  @JsonPropertyDescription(
      "The placement plan: every Shared NdifDeployment on this cluster, in admission order.")
  public List<DeploymentPlacement> deployments = new ArrayList<>();

  @JsonPropertyDescription(
      "The Ray Serve config the operator owns on this cluster, and what Ray reports.")
  public ServeStatus serve;

  @JsonPropertyDescription(
      "The warm tier: models whose weights a node keeps in host memory, as the gateway reports"
          + " the nodes' stores.")
  public List<WarmCopy> warmCopies;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class WarmCopy {
    @JsonPropertyDescription("NDIF model key.")
    public String modelKey;

    @JsonPropertyDescription("<namespace>/<name> of the NdifDeployment whose replica left it.")
    public String deployment;

    @JsonPropertyDescription("The Ray node (pod) that keeps it.")
    public String node;

    public String pool;
    public Long bytes;

    @JsonPropertyDescription("When the copy was made.")
    public String keptAt;
  }

  @JsonPropertyDescription(
      "NDIF's API on this cluster: the URL to set as NDIF_HOST and its Serve application.")
  public GatewayStatus gateway;

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class GatewayStatus {
    @JsonPropertyDescription("Set NDIF_HOST to this URL (no trailing slash) for nnsight's client.")
    public String url;

    @JsonPropertyDescription(
        "The same API from the gateway replicas' own port (spec.gateway.directPort), past Ray"
            + " Serve's HTTP proxy: a shorter path for NDIF_HOST where clients reach it.")
    public String directUrl;

    @JsonPropertyDescription(
        "Where the gateway's replicas run on a managed cluster: Head, or Workers (its own worker"
            + " group, ndif-gateway).")
    public String placement;

    @JsonPropertyDescription("The gateway application's status as Ray reports it.")
    public String application;

    @JsonPropertyDescription("Whether the gateway answers: its application is RUNNING.")
    public Boolean ready;

    @JsonPropertyDescription("ApiKeys or None.")
    public String auth;

    @JsonPropertyDescription("Ray's message when the application is not running.")
    public String message;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ServeStatus {
    @JsonPropertyDescription("SHA-256 of the last multi-application config PUT to the dashboard.")
    public String appliedConfigHash;

    @JsonPropertyDescription("Applications as the Ray dashboard last reported them.")
    public List<ServeApplication> applications = new ArrayList<>();

    @JsonPropertyDescription(
        "Declarative applications on this Ray cluster that no NdifDeployment owns (an adopted"
            + " cluster's own); every PUT carries their deployed config unchanged, so they keep"
            + " running.")
    public List<String> otherApplications;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ServeApplication {
    public String name;

    @JsonPropertyDescription(
        "Ray Serve application status (RUNNING, DEPLOYING, DEPLOY_FAILED, ...).")
    public String status;

    public String message;
    public String route;
    public List<ServeReplica> replicas = new ArrayList<>();
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class ServeReplica {
    public String id;

    @JsonPropertyDescription("Ray Serve replica state (STARTING, RUNNING, ...).")
    public String state;

    @JsonPropertyDescription("Ray node id of the node the replica runs on.")
    public String nodeId;

    public String nodeIp;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class DeploymentPlacement {
    @JsonPropertyDescription("NdifDeployment name.")
    public String name;

    public Boolean admitted;

    @JsonPropertyDescription("Pool it is admitted to (or was measured against when pending).")
    public String pool;

    public Double gpusPerReplica;
    public Integer replicas;

    @JsonPropertyDescription("Estimated GPU memory of one replica, in bytes.")
    public Long sizeBytes;

    @JsonPropertyDescription("When it was admitted; the minimum deployment time counts from here.")
    public String admittedAt;

    @JsonPropertyDescription(
        "Admitted, SizeUnknown, PoolNotFound, ModelTooLarge, InsufficientCapacity or Preempted.")
    public String reason;

    public String message;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class HeadStatus {
    public String pod;
    public String podIP;
    public String service;
    public Boolean ready;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class PoolStatus {
    public String name;

    @JsonPropertyDescription("Nodes the operator asks KubeRay for.")
    public Integer desiredNodes;

    @JsonPropertyDescription("Worker pods Running and Ready.")
    public Integer readyNodes;

    @JsonPropertyDescription("GPUs on ready nodes.")
    public Integer gpus;

    @JsonPropertyDescription("GPUs allocated to admitted deployments.")
    public Double allocatedGpus;

    @JsonPropertyDescription("Memory of one GPU.")
    public String gpuMemory;

    @JsonPropertyDescription("GPU memory reserved by admitted replicas, in bytes.")
    public Long allocatedMemoryBytes;

    @JsonPropertyDescription("Admitted deployments.")
    public List<String> admitted;

    @JsonPropertyDescription("Deployments waiting for room in this pool.")
    public List<String> pending;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class NodeStatus {
    @JsonPropertyDescription("Ray worker pod.")
    public String pod;

    @JsonPropertyDescription("Kubernetes node the pod runs on.")
    public String nodeName;

    @JsonPropertyDescription("Ray's node id (external clusters, whose nodes are read from Ray).")
    public String rayNodeId;

    @JsonPropertyDescription("Ray's node IP (external clusters).")
    public String nodeIp;

    public String pool;
    public String podIP;
    public String phase;
    public Boolean ready;
    public Integer gpus;

    @JsonPropertyDescription(
        "GPU product, from the Kubernetes node's nvidia.com/gpu.product label.")
    public String gpuProduct;

    @JsonPropertyDescription("GPUs held by the Serve replicas running on this node.")
    public Double allocatedGpus;

    @JsonPropertyDescription("Serve replicas on this node, as <deployment>/<replica id>.")
    public List<String> replicas;
  }

  @JsonInclude(JsonInclude.Include.NON_NULL)
  public static class Totals {
    public Integer desiredNodes;
    public Integer readyNodes;

    @JsonPropertyDescription("GPUs on ready nodes.")
    public Integer gpus;

    public Double allocatedGpus;

    @JsonPropertyDescription("GPU demand of deployments waiting for room.")
    public Double pendingGpus;
  }
}
