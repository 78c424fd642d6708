package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.OperatorSettings.DashboardAccess;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import io.ndif.operator.testing.Fixtures;
import io.ndif.operator.testing.LocalCluster;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.LocalRay;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The managed path for real: an NdifCluster whose RayCluster KubeRay runs on a real node (kubelet,
 * containerd, runc; {@code hack/real-node}), with the Ray environment of {@code hack/ray-env.sh}
 * mounted into the pods through the pod template overrides. The operator runs here, outside the
 * node's network, and reaches the Ray dashboard through the API server's service proxy.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RealNodeIT {
  @RegisterExtension
  static LocalClusterExtension cluster = new LocalClusterExtension(LocalCluster::realNode);

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private static final String API_KEY = "real-node-it-key-0123456789";
  private static final String POOL = "cpu-gpu";
  private static final String CACHE_MOUNT = "/home/ray/.cache/huggingface";
  private static LocalRay ray;
  private static Path modelDir;
  private static Path cacheDir;

  /** kubectl port-forwards, by pod and port. */
  private static final Map<String, Process> forwards = new java.util.HashMap<>();

  private static final Map<String, String> forwardedUrls = new java.util.HashMap<>();
  private static String tinyDeployment;
  private static String clusterDocument;

  /** The bridge of the real node's network (hack/real-node), where its pods reach the host. */
  private static final String NODE_NETWORK_ADDRESS = "10.88.0.1";

  private static final int REDIS_PORT = 16379;

  @BeforeAll
  static void start() throws Exception {
    ray = LocalRay.environmentOnly();
    Path target = Path.of("target").toAbsolutePath();
    // The tiny model under its repository id in the node's Hugging Face cache (modelCache), as
    // a download would have left it; the client's meta model reads the same snapshot.
    cacheDir = target.resolve("it-real-node-hf-cache");
    Files.createDirectories(cacheDir);
    var made =
        ray.python(300, "-m", "ndif_serve.tiny", "--hub-cache", cacheDir.resolve("hub").toString());
    assertThat(made.exitCode()).as(made.output()).isZero();
    modelDir =
        Path.of(
            made.output()
                .lines()
                .filter(line -> line.contains("/snapshots/"))
                .reduce((a, b) -> b)
                .orElseThrow()
                .strip());

    // The pods run the host's Ray environment: the venv and the interpreter it links to, mounted
    // read-only at their host paths; the image's login profile puts $VIRTUAL_ENV/bin on PATH.
    Path venv = ray.pythonPath().getParent().getParent();
    Path interpreterHome = ray.pythonPath().toRealPath().getParent().getParent();

    cluster
        .client()
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("real-api-keys")
                .endMetadata()
                .withStringData(
                    Map.of("keys.yaml", Fixtures.trustedKeyFile(API_KEY, "it@example.org")))
                .build())
        .inNamespace(cluster.namespace())
        .create();
    cluster.startOperator(
        new OperatorSettings(
            Set.of(cluster.namespace()),
            4,
            Duration.ZERO,
            "127.0.0.1",
            -1,
            null,
            DashboardAccess.PROXY));

    // The example hack/run-local.sh --real applies, filled in the same way.
    String example =
        Files.readString(Path.of("examples/real-node/tiny.yaml"))
            .replace("@RAY_VENV@", venv.toString())
            .replace("@PYTHON_HOME@", interpreterHome.toString())
            .replace("@CACHE_DIR@", cacheDir.toString());
    String[] documents = example.split("(?m)^---$");
    assertThat(documents).hasSize(2);
    tinyDeployment = documents[1];
    clusterDocument = documents[0];
    cluster
        .client()
        .resource(Serialization.unmarshal(documents[0], NdifCluster.class))
        .inNamespace(cluster.namespace())
        .create();
  }

  @AfterAll
  static void stopPortForward() {
    forwards.values().forEach(Process::destroy);
  }

  @Test
  @Order(1)
  void kubeRaysPodsRunRealRayAndTheStatusListsThem() {
    await()
        .atMost(Duration.ofMinutes(6))
        .pollInterval(Duration.ofSeconds(3))
        .untilAsserted(
            () -> {
              var status = clusterStatus();
              assertThat(status).isNotNull();
              assertThat(status.head).isNotNull();
              assertThat(status.head.ready).as("head: %s", podSummary()).isTrue();
              assertThat(status.nodes).as("nodes: %s", podSummary()).hasSize(1);
              NdifClusterStatus.NodeStatus node = status.nodes.get(0);
              assertThat(node.ready).isTrue();
              assertThat(node.pool).isEqualTo(POOL);
              assertThat(node.nodeName).isEqualTo("ndif-real-node");
              assertThat(node.gpus).isEqualTo(1);
              assertThat(node.gpuProduct).isEqualTo("NDIF-Real-Node");
            });
    for (Pod pod : rayPods()) {
      assertThat(pod.getStatus().getPhase()).isEqualTo("Running");
      // The override's annotation and extra volume reached the pods KubeRay made.
      assertThat(pod.getMetadata().getAnnotations())
          .containsEntry("example.org/owner", "ndif-examples");
      assertThat(pod.getSpec().getVolumes()).anyMatch(v -> v.getName().equals("ray-venv"));
    }
  }

  @Test
  @Order(2)
  void rayWantsItsTokenAndTheOperatorHasIt() {
    var rayCluster =
        cluster
            .client()
            .genericKubernetesResources("ray.io/v1", "RayCluster")
            .inNamespace(cluster.namespace())
            .withName(clusterStatus().rayClusterName)
            .get();
    assertThat(rayCluster.getAdditionalProperties().get("spec").toString())
        .contains("authOptions={mode=token}");
    assertThat(dashboardResponse("/api/serve/applications/", null).code()).isEqualTo(401);
    assertThat(dashboardResponse("/api/serve/applications/", "not-the-token").code())
        .isEqualTo(403);
    assertThat(Conditions.reason(clusterStatus().conditions, "RayTokenAuth")).isEqualTo("Token");
  }

  @Test
  @Order(2)
  void theWorkerJoinsRayWithThePoolsResourceAndItsGpu() throws Exception {
    JsonNode nodes =
        JSON.readTree(dashboard("/api/v0/nodes?detail=true")).at("/data/result/result");
    assertThat(nodes).hasSize(2);
    List<JsonNode> workers = new ArrayList<>();
    nodes.forEach(
        n -> {
          if (!n.path("is_head_node").asBoolean()) {
            workers.add(n);
          }
        });
    assertThat(workers).hasSize(1);
    JsonNode resources = workers.get(0).path("resources_total");
    assertThat(resources.path(KubeRay.poolResource(POOL)).asDouble())
        .as(resources.toString())
        .isEqualTo(1);
    assertThat(resources.path("GPU").asDouble()).isEqualTo(1);
    assertThat(workers.get(0).path("state").asText()).isEqualTo("ALIVE");
  }

  @Test
  @Order(3)
  void aModelIsServedOnTheWorkerOfItsPoolAndAnswers() throws Exception {
    cluster
        .client()
        .resource(Serialization.unmarshal(tinyDeployment, NdifDeployment.class))
        .inNamespace(cluster.namespace())
        .create();
    cluster.awaitReady("tiny", 1, Duration.ofMinutes(6));

    var status = cluster.deployment("tiny").getStatus();
    String worker =
        rayPods().stream()
            .filter(p -> isA(p, "worker"))
            .findFirst()
            .orElseThrow()
            .getStatus()
            .getPodIP();
    assertThat(status.placements).hasSize(1);
    assertThat(status.placements.get(0).nodeIp).isEqualTo(worker);
    assertThat(status.placements.get(0).state).isEqualTo("RUNNING");
    var node = clusterStatus().nodes.get(0);
    assertThat(node.replicas).anyMatch(r -> r.startsWith(cluster.namespace() + "_tiny/"));

    String route = status.endpoint.substring(status.endpoint.indexOf('/', "http://".length()));
    var generated =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(serveUrl() + route + "/generate"))
                .timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString(
                        "{\"prompt\": \"Ray\", \"max_new_tokens\": 3}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(generated.statusCode()).as(generated.body()).isEqualTo(200);
    assertThat(JSON.readTree(generated.body()).path("new_tokens").asInt()).isEqualTo(3);
  }

  @Test
  @Order(4)
  void nnsightsOwnClientRunsARemoteTraceThroughTheClustersGateway() throws Exception {
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              var status = clusterStatus();
              assertThat(Conditions.reason(status.conditions, "GatewayReady")).isEqualTo("Serving");
              assertThat(status.gateway.ready).isTrue();
            });
    String key = cluster.deployment("tiny").getStatus().modelKey;
    assertTracedLikeALocalRun(key, modelDir.toString(), 300);
  }

  @Test
  @Order(5)
  void theGatewayReplicasOwnPortOnTheHeadAnswersPastServesProxy() throws Exception {
    var status = clusterStatus();
    String service = status.rayClusterName + "-gateway";
    assertThat(status.gateway.directUrl)
        .isEqualTo("http://" + service + "." + cluster.namespace() + ".svc:8001");
    // The gateway Service reaches the gateway's own port on the pod that hosts it (the head).
    await()
        .atMost(Duration.ofMinutes(1))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              var endpoints =
                  cluster
                      .client()
                      .discovery()
                      .v1()
                      .endpointSlices()
                      .inNamespace(cluster.namespace())
                      .withLabel("kubernetes.io/service-name", service)
                      .list()
                      .getItems();
              assertThat(endpoints)
                  .as("endpoint slices of %s", service)
                  .anySatisfy(
                      slice -> {
                        assertThat(slice.getPorts())
                            .anySatisfy(p -> assertThat(p.getPort()).isEqualTo(8001));
                        assertThat(slice.getEndpoints())
                            .anySatisfy(
                                e ->
                                    assertThat(e.getTargetRef().getName())
                                        .isEqualTo(
                                            rayPods().stream()
                                                .filter(p -> isA(p, "head"))
                                                .findFirst()
                                                .orElseThrow()
                                                .getMetadata()
                                                .getName()));
                      });
            });
    String key = cluster.deployment("tiny").getStatus().modelKey;
    assertTracedLikeALocalRun(key, modelDir.toString(), 300, forwarded(8001));
  }

  @Test
  @Order(5)
  void aContainedBlockOnTheWorkerFindsNoCredentialAndReachesNothing() throws Exception {
    String key = cluster.deployment("tiny").getStatus().modelKey;
    String dashboard =
        "http://"
            + clusterStatus().rayClusterName
            + "-head-svc."
            + cluster.namespace()
            + ".svc:8265";
    var run =
        ray.python(
            300,
            "serve/scripts/contained_probe.py",
            "--host",
            serveUrl(),
            "--model-key",
            key,
            "--model-dir",
            modelDir.toString(),
            "--api-key",
            API_KEY,
            "--dashboard",
            dashboard);
    assertThat(run.exitCode()).as(run.output()).isZero();
    String last = run.output().lines().filter(l -> l.startsWith("{")).reduce("", (a, b) -> b);
    JsonNode found = JSON.readTree(last);
    // The worker pod has no token and no key file mounted at all (the keys are on the head, with
    // the gateway).
    assertThat(found.path("service_account_token").asText())
        .as(last)
        .startsWith("FileNotFoundError");
    assertThat(found.path("api_keys").asText()).as(last).startsWith("FileNotFoundError");
    assertThat(found.path("api_server").asText()).as(last).doesNotContain("succeeded");
    assertThat(found.path("dashboard").asText()).as(last).doesNotContain("succeeded");
    List<String> names = new ArrayList<>();
    found.path("environment").forEach(n -> names.add(n.asText()));
    assertThat(names)
        .as(last)
        .noneMatch(n -> n.startsWith("RAY_") || n.contains("TOKEN") || n.startsWith("KUBERNETES"));
  }

  @Test
  @Order(5)
  void aModelNothingServesIsDeployedOnDemandOnTheWorker() throws Exception {
    String repo = "ndif-local/tiny-gpt2-on-demand";
    var made =
        ray.python(
            300,
            "-m",
            "ndif_serve.tiny",
            "--hub-cache",
            cacheDir.resolve("hub").toString(),
            "--repo-id",
            repo);
    assertThat(made.exitCode()).as(made.output()).isZero();
    String snapshot =
        made.output()
            .lines()
            .filter(line -> line.contains("/snapshots/"))
            .reduce((a, b) -> b)
            .orElseThrow()
            .strip();
    for (int attempt = 1; ; attempt++) {
      try {
        cluster
            .ndifCluster("real")
            .edit(
                c -> {
                  c.getSpec().onDemand =
                      Serialization.unmarshal(
                          "models: [{repoId: \"ndif-local/*\", sizeBytes: 1Mi, dtype: float32,"
                              + " resources: {cpus: 0.25}}]\nidleSeconds: 3600\n",
                          io.ndif.operator.api.OnDemandSpec.class);
                  c.getSpec().warmTier = new io.ndif.operator.api.WarmTierSpec();
                  c.getSpec().warmTier.budget = "256Mi";
                  return c;
                });
        break;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (e.getCode() != 409 || attempt == 5) {
          throw e;
        }
      }
    }
    // The managed path: the operator reaches the gateway through the API server's proxy.
    String key =
        "nnsight.modeling.transformers.TransformersModel:{\"repo_id\": \""
            + repo
            + "\", \"revision\": null, \"task\": \"text-generation\"}";
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () ->
                assertThat(Conditions.reason(clusterStatus().conditions, "GatewayReady"))
                    .isEqualTo("Serving"));
    assertTracedLikeALocalRun(key, snapshot, 600);
    String name = io.ndif.operator.ondemand.OnDemandDeployments.name(repo);
    var deployment = cluster.deployment(name);
    assertThat(deployment.getMetadata().getLabels()).containsEntry("ndif.io/on-demand", "true");
    assertThat(deployment.getStatus().placements).extracting(p -> p.pool).containsOnly(POOL);

    // The warm tier: removed (as an idle-out removes it), its weights stay on the worker, and
    // the next request brings it back from memory with the same answer.
    cluster.ndifDeployment(name).delete();
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () ->
                assertThat(clusterStatus().warmCopies)
                    .anySatisfy(
                        copy -> {
                          assertThat(copy.modelKey).isEqualTo(key);
                          assertThat(copy.pool).isEqualTo(POOL);
                          assertThat(worker().getMetadata().getName()).startsWith(copy.node);
                        }));
    assertTracedLikeALocalRun(key, snapshot, 600);
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> assertThat(cluster.deployment(name).getStatus().level).isEqualTo("HOT"));
    var back = cluster.deployment(name).getStatus();
    String route = back.endpoint.substring(back.endpoint.indexOf('/', "http://".length()));
    var info =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(serveUrl() + route + "/info"))
                .timeout(Duration.ofSeconds(60))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(JSON.readTree(info.body()).path("load_source").asText())
        .as(info.body())
        .isEqualTo("warm");
  }

  @Test
  @Order(6)
  void theModelCacheIsWhereHuggingFaceLooksAndOutlivesThePod() throws Exception {
    Pod worker = worker();
    var env = exec(worker, "sh", "-c", "echo $HF_HOME; echo written > $HF_HOME/it-probe");
    assertThat(env.exitCode()).as(env.output()).isZero();
    assertThat(env.output().trim()).isEqualTo(CACHE_MOUNT);
    assertThat(cacheDir.resolve("it-probe")).hasContent("written");

    cluster.client().pods().resource(worker).withGracePeriod(5).delete();
    await()
        .atMost(Duration.ofMinutes(4))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              Pod next = worker();
              assertThat(next.getMetadata().getUid()).isNotEqualTo(worker.getMetadata().getUid());
              assertThat(next.getStatus().getPhase()).isEqualTo("Running");
            });
    var read = exec(worker(), "cat", CACHE_MOUNT + "/it-probe");
    assertThat(read.exitCode()).as(read.output()).isZero();
    assertThat(read.output().trim()).isEqualTo("written");
  }

  @Test
  @Order(7)
  void aNewHeadPodGetsTheServeConfigBackAsSoonAsItIsReady() throws Exception {
    Pod head = rayPods().stream().filter(p -> isA(p, "head")).findFirst().orElseThrow();
    cluster.client().pods().resource(head).withGracePeriod(1).delete();
    // The new head's pod turning Ready is the event; from then on the operator puts the config.
    Pod next =
        await()
            .atMost(Duration.ofMinutes(4))
            .pollInterval(Duration.ofMillis(500))
            .until(
                () ->
                    rayPods().stream()
                        .filter(p -> isA(p, "head"))
                        .filter(p -> !p.getMetadata().getUid().equals(head.getMetadata().getUid()))
                        .filter(RealNodeIT::ready)
                        .findFirst()
                        .orElse(null),
                java.util.Objects::nonNull);
    long ready = System.nanoTime();
    String app = cluster.namespace() + "_tiny";
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofMillis(500))
        .ignoreExceptions()
        .until(
            () ->
                JSON.readTree(dashboard("/api/serve/applications/")).path("applications").has(app));
    Duration back = Duration.ofNanos(System.nanoTime() - ready);
    // The recovery time of a managed cluster, as docs/operations.md reports it.
    System.out.println(
        "recovery: managed cluster's applications put back "
            + back.toMillis()
            + " ms after the new head pod "
            + next.getMetadata().getName()
            + " was Ready");
    assertThat(back)
        .as("a new head's config is back within 10 s of it being Ready")
        .isLessThan(Duration.ofSeconds(10));
    cluster.awaitReady("tiny", 1, Duration.ofMinutes(5));
  }

  /**
   * Serving through a head restart: with a job store (a Redis in the node's network), GCS fault
   * tolerance is on and the gateway runs on a worker group of its own, so a head pod deleted while
   * a researcher's loop sends traces through the gateway's own port leaves the loop answered. The
   * counts are printed for docs/failures.md.
   */
  @Test
  @Order(9)
  void withAStoreTheGatewayOnItsOwnWorkerKeepsAnsweringWhileTheHeadRestarts() throws Exception {
    String password = "ha-redis-" + java.util.UUID.randomUUID();
    Process redis = startRedisInTheNodesNetwork(REDIS_PORT, password);
    KeptForward forward = null;
    try {
      cluster
          .client()
          .resource(
              new SecretBuilder()
                  .withNewMetadata()
                  .withName("ha-redis")
                  .endMetadata()
                  .withStringData(Map.of("password", password))
                  .build())
          .inNamespace(cluster.namespace())
          .create();
      NdifCluster ha = Serialization.unmarshal(clusterDocument, NdifCluster.class);
      ha.getMetadata().setName("ha");
      var gateway = ha.getSpec().gateway;
      gateway.auth =
          Serialization.unmarshal(
              "secretName: real-api-keys", io.ndif.operator.api.GatewayAuthSpec.class);
      gateway.store =
          Serialization.unmarshal(
              "address: \""
                  + NODE_NETWORK_ADDRESS
                  + ":"
                  + REDIS_PORT
                  + "\"\n"
                  + "passwordSecretRef: {name: ha-redis, key: password}\n",
              io.ndif.operator.api.GatewayStoreSpec.class);
      gateway.workers =
          Serialization.unmarshal(
              "resources: {requests: {cpu: 250m, memory: 1Gi}, limits: {cpu: \"2\", memory: 3Gi}}",
              io.ndif.operator.api.GatewayWorkersSpec.class);
      gateway.workers.template = ha.getSpec().pools.get(0).template;
      cluster.client().resource(ha).inNamespace(cluster.namespace()).create();
      cluster
          .client()
          .resource(
              Serialization.unmarshal(
                  tinyDeployment.replace("clusterRef: real", "clusterRef: ha"),
                  io.ndif.operator.api.NdifDeployment.class))
          .inNamespace(cluster.namespace())
          .create();
      cluster.awaitReady("tiny", 1, Duration.ofMinutes(8));
      String key = cluster.deployment("tiny").getStatus().modelKey;
      Pod gatewayPod =
          await()
              .atMost(Duration.ofMinutes(3))
              .pollInterval(Duration.ofSeconds(2))
              .until(
                  () ->
                      rayPods().stream()
                          .filter(
                              p ->
                                  "ndif-gateway"
                                      .equals(p.getMetadata().getLabels().get("ray.io/group")))
                          .filter(RealNodeIT::ready)
                          .findFirst()
                          .orElse(null),
                  java.util.Objects::nonNull);
      // kubectl port-forward ends at the first connection the pod refuses; it is started again
      // on the same local port, so the loop sees a refusal as any client would, then goes on.
      forward = KeptForward.to(gatewayPod, 8001);
      String host = forward.url();
      // The gateway answers on its own pod before the head goes.
      await()
          .atMost(Duration.ofMinutes(3))
          .pollInterval(Duration.ofSeconds(5))
          .untilAsserted(() -> assertTracedLikeALocalRun(key, modelDir.toString(), 120, host));

      var loop =
          ray.start(
              "serve/scripts/trace_loop.py",
              "--host",
              host,
              "--model-key",
              key,
              "--model-dir",
              modelDir.toString(),
              "--api-key",
              API_KEY,
              "--seconds",
              "600");
      try {
        await()
            .atMost(Duration.ofMinutes(2))
            .pollInterval(Duration.ofSeconds(1))
            .until(() -> Files.readString(loop.log()).contains("\"ok\": true"));
        Pod head =
            rayPods().stream()
                .filter(p -> "ha".equals(p.getMetadata().getLabels().get("ray.io/cluster")))
                .filter(p -> isA(p, "head"))
                .findFirst()
                .orElseThrow();
        // The workers (the gateway's and the model's) must live through it: without GCS fault
        // tolerance their raylets end 60 s after the head's GCS went away.
        Map<String, Integer> workersBefore = workerRestarts("ha");
        double deleted = System.currentTimeMillis() / 1000.0;
        cluster.client().pods().resource(head).withGracePeriod(1).delete();
        await()
            .atMost(Duration.ofMinutes(5))
            .pollInterval(Duration.ofMillis(500))
            .until(
                () ->
                    rayPods().stream()
                        .filter(p -> isA(p, "head"))
                        .filter(p -> !p.getMetadata().getUid().equals(head.getMetadata().getUid()))
                        .anyMatch(RealNodeIT::ready));
        double headBack = System.currentTimeMillis() / 1000.0;
        // The loop goes on with the new head past the 60 s a raylet waits for a GCS, then stops.
        Thread.sleep(Math.max(30_000, (long) ((deleted + 90 - headBack) * 1000)));
        // Whatever failed meanwhile, the gateway answers again.
        await()
            .atMost(Duration.ofMinutes(2))
            .pollInterval(Duration.ofSeconds(1))
            .until(
                () ->
                    Files.readAllLines(loop.log()).stream()
                        .filter(line -> line.startsWith("{"))
                        .reduce((first, last) -> last)
                        .map(line -> line.contains("\"ok\": true"))
                        .orElse(false));
        loop.process().destroy();
        loop.process().waitFor(30, TimeUnit.SECONDS);
        List<JsonNode> traces = new ArrayList<>();
        for (String line : Files.readAllLines(loop.log())) {
          if (line.startsWith("{")) {
            traces.add(JSON.readTree(line));
          }
        }
        long answeredWhileAway =
            traces.stream()
                .filter(t -> t.path("started").asDouble() > deleted)
                .filter(t -> t.path("ended").asDouble() < headBack)
                .filter(t -> t.path("ok").asBoolean())
                .count();
        long answeredAfter =
            traces.stream()
                .filter(t -> t.path("started").asDouble() > headBack)
                .filter(t -> t.path("ok").asBoolean())
                .count();
        List<JsonNode> failed = traces.stream().filter(t -> !t.path("ok").asBoolean()).toList();
        Map<String, Long> reasons =
            failed.stream()
                .collect(
                    java.util.stream.Collectors.groupingBy(
                        t -> t.path("error").asText(),
                        java.util.TreeMap::new,
                        java.util.stream.Collectors.counting()));
        System.out.printf(
            "head restart: head pod away %.1f s; %d traces in all, %d started and answered while"
                + " the head was away, %d answered after it; %d failed%s, by reason %s; the"
                + " port-forward was started again %d time(s)%n",
            headBack - deleted,
            traces.size(),
            answeredWhileAway,
            answeredAfter,
            failed.size(),
            failed.isEmpty()
                ? ""
                : String.format(
                    " (the first %.1f s, the last %.1f s after the head pod was deleted)",
                    failed.get(0).path("started").asDouble() - deleted,
                    failed.get(failed.size() - 1).path("started").asDouble() - deleted),
            reasons,
            forward.restarts());
        assertThat(workerRestarts("ha"))
            .as("the worker pods and their restarts, before the head was deleted and after")
            .isEqualTo(workersBefore);
        assertThat(answeredWhileAway)
            .as("traces answered while the head was away; loop: %s", traces)
            .isPositive();
        assertThat(answeredAfter)
            .as("traces answered after the new head was Ready: %s", traces)
            .isPositive();
      } finally {
        loop.process().destroyForcibly();
      }
    } finally {
      if (forward != null) {
        forward.close();
      }
      // KubeRay's Redis cleanup Job runs before the RayCluster goes: the Redis must outlive it.
      cluster.ndifDeployment("tiny").delete();
      cluster.ndifCluster("ha").delete();
      await()
          .atMost(Duration.ofMinutes(4))
          .pollInterval(Duration.ofSeconds(2))
          .untilAsserted(
              () ->
                  assertThat(
                          cluster
                              .client()
                              .genericKubernetesResources("ray.io/v1", "RayCluster")
                              .inNamespace(cluster.namespace())
                              .list()
                              .getItems())
                      .isEmpty());
      redis.destroy();
    }
  }

  /** Each worker pod of the cluster (by UID) and how often its containers restarted. */
  private static Map<String, Integer> workerRestarts(String rayCluster) {
    Map<String, Integer> restarts = new java.util.TreeMap<>();
    for (Pod pod : rayPods()) {
      if (rayCluster.equals(pod.getMetadata().getLabels().get("ray.io/cluster"))
          && isA(pod, "worker")) {
        restarts.put(
            pod.getMetadata().getUid(),
            pod.getStatus().getContainerStatuses().stream()
                .mapToInt(c -> c.getRestartCount() == null ? 0 : c.getRestartCount())
                .sum());
      }
    }
    return restarts;
  }

  /** A kubectl port-forward to a pod that is started again on the same local port when it ends. */
  private static final class KeptForward implements AutoCloseable {
    private final Pod pod;
    private final int port;
    private final int localPort;
    private final Thread keeper;
    private volatile boolean closed;
    private volatile Process process;
    private final java.util.concurrent.atomic.AtomicInteger restarts =
        new java.util.concurrent.atomic.AtomicInteger();

    private KeptForward(Pod pod, int port, int localPort, Process process) {
      this.pod = pod;
      this.port = port;
      this.localPort = localPort;
      this.process = process;
      this.keeper = new Thread(this::keep, "port-forward-keeper");
      keeper.setDaemon(true);
      keeper.start();
    }

    static KeptForward to(Pod pod, int port) throws Exception {
      String url = forwarded(pod, port);
      int localPort = Integer.parseInt(url.substring(url.lastIndexOf(':') + 1));
      return new KeptForward(
          pod, port, localPort, forwards.get(pod.getMetadata().getName() + ":" + port));
    }

    String url() {
      return "http://127.0.0.1:" + localPort;
    }

    int restarts() {
      return restarts.get();
    }

    private void keep() {
      while (!closed) {
        try {
          if (!process.isAlive()) {
            var builder =
                new ProcessBuilder(
                        cluster.cluster().binDir().resolve("kubectl").toString(),
                        "port-forward",
                        "-n",
                        cluster.namespace(),
                        "--address",
                        "127.0.0.1",
                        "pod/" + pod.getMetadata().getName(),
                        localPort + ":" + port)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD);
            builder.environment().put("KUBECONFIG", cluster.cluster().kubeconfig().toString());
            process = builder.start();
            restarts.incrementAndGet();
          }
          Thread.sleep(200);
        } catch (Exception e) {
          return;
        }
      }
    }

    @Override
    public void close() {
      closed = true;
      keeper.interrupt();
      process.destroy();
    }
  }

  /** Inside the real node's network namespace, where its pods reach the bridge's address. */
  private static Process startRedisInTheNodesNetwork(int port, String password) throws Exception {
    String netns = System.getenv().getOrDefault("NDIF_REAL_NODE_NETNS", "ndif-real");
    Path dir = Files.createTempDirectory("it-ha-redis");
    var builder =
        new ProcessBuilder(
                "nsenter",
                "--net=/run/netns/" + netns,
                "--",
                "redis-server",
                "--bind",
                NODE_NETWORK_ADDRESS,
                "--port",
                String.valueOf(port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                dir.toString(),
                "--requirepass",
                password)
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("redis.log").toFile());
    Process redis = builder.start();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(200))
        .until(() -> Files.readString(dir.resolve("redis.log")).contains("Ready to accept"));
    assertThat(redis.isAlive()).as(Files.readString(dir.resolve("redis.log"))).isTrue();
    return redis;
  }

  /** Whether KubeRay made the pod as a head or a worker ({@code ray.io/node-type}). */
  private static boolean isA(Pod pod, String nodeType) {
    return nodeType.equals(pod.getMetadata().getLabels().get("ray.io/node-type"));
  }

  private static boolean ready(Pod pod) {
    return pod.getStatus() != null
        && pod.getStatus().getConditions() != null
        && pod.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
  }

  @Test
  @Order(8)
  void deletingTheNdifClusterRemovesEverything() {
    cluster.ndifDeployment("tiny").delete();
    cluster.ndifCluster("real").delete();
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              assertThat(cluster.ndifCluster("real").get()).isNull();
              assertThat(
                      cluster
                          .client()
                          .genericKubernetesResources("ray.io/v1", "RayCluster")
                          .inNamespace(cluster.namespace())
                          .list()
                          .getItems())
                  .isEmpty();
              assertThat(rayPods()).isEmpty();
              assertThat(
                      cluster
                          .client()
                          .services()
                          .inNamespace(cluster.namespace())
                          .withLabel("ray.io/cluster")
                          .list()
                          .getItems())
                  .isEmpty();
            });
  }

  private static NdifClusterStatus clusterStatus() {
    return cluster.ndifCluster("real").get().getStatus();
  }

  private static List<Pod> rayPods() {
    return cluster
        .client()
        .pods()
        .inNamespace(cluster.namespace())
        .withLabel("ray.io/cluster")
        .list()
        .getItems();
  }

  /**
   * nnsight's own client (serve/scripts/remote_trace.py) against the cluster's gateway: the trace
   * answers with the values of a local run.
   */
  private static void assertTracedLikeALocalRun(String key, String modelDir, int timeoutSeconds)
      throws Exception {
    assertTracedLikeALocalRun(key, modelDir, timeoutSeconds, serveUrl());
  }

  private static void assertTracedLikeALocalRun(
      String key, String modelDir, int timeoutSeconds, String host) throws Exception {
    var run =
        ray.python(
            timeoutSeconds,
            "serve/scripts/remote_trace.py",
            "--host",
            host,
            "--model-key",
            key,
            "--model-dir",
            modelDir,
            "--api-key",
            API_KEY);
    assertThat(run.exitCode()).as(run.output()).isZero();
    String last = run.output().lines().filter(l -> l.startsWith("{")).reduce("", (a, b) -> b);
    assertThat(JSON.readTree(last).path("matches_local").asBoolean()).as(last).isTrue();
  }

  private static Pod worker() {
    return rayPods().stream()
        .filter(p -> isA(p, "worker"))
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .findFirst()
        .orElseThrow(() -> new AssertionError("no worker pod: " + podSummary()));
  }

  private static String podSummary() {
    StringBuilder out = new StringBuilder();
    for (Pod pod : rayPods()) {
      out.append(pod.getMetadata().getName()).append(' ').append(pod.getStatus().getPhase());
      if (pod.getStatus().getContainerStatuses() != null) {
        pod.getStatus()
            .getContainerStatuses()
            .forEach(
                c -> out.append(' ').append(c.getName()).append(" ready=").append(c.getReady()));
      }
      out.append("; ");
    }
    return out.toString();
  }

  /**
   * A GET of the head's dashboard through the API server's service proxy, with the cluster's Ray
   * token from the Secret KubeRay made (token authentication is on by default).
   */
  private static String dashboard(String path) {
    return dashboard(path, rayToken());
  }

  private static String dashboard(String path, String token) {
    var response = dashboardResponse(path, token);
    assertThat(response.code()).as(response.body()).isEqualTo(200);
    return response.body();
  }

  private static io.fabric8.kubernetes.client.http.HttpResponse<String> dashboardResponse(
      String path, String token) {
    String name = clusterStatus().rayClusterName;
    var client = cluster.client();
    var request =
        client
            .getHttpClient()
            .newHttpRequestBuilder()
            .uri(
                client.getConfiguration().getMasterUrl().replaceAll("/+$", "")
                    + "/api/v1/namespaces/"
                    + cluster.namespace()
                    + "/services/"
                    + name
                    + "-head-svc:8265/proxy"
                    + path);
    if (token != null) {
      request.header("X-Ray-Authorization", "Bearer " + token);
    }
    try {
      return client
          .getHttpClient()
          .sendAsync(request.build(), String.class)
          .get(30, java.util.concurrent.TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private static String rayToken() {
    var secret =
        cluster
            .client()
            .secrets()
            .inNamespace(cluster.namespace())
            .withName(clusterStatus().rayClusterName)
            .get();
    return secret == null
        ? null
        : new String(
            java.util.Base64.getDecoder().decode(secret.getData().get("auth_token")),
            java.nio.charset.StandardCharsets.UTF_8);
  }

  private static LocalCluster.Result exec(Pod pod, String... command) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "exec",
                "-n",
                cluster.namespace(),
                pod.getMetadata().getName(),
                "-c",
                "ray-worker",
                "--"));
    args.addAll(List.of(command));
    return cluster.cluster().run("kubectl", args.toArray(String[]::new));
  }

  /** Ray Serve's HTTP port on the head, forwarded to 127.0.0.1 here by kubectl. */
  private static String serveUrl() throws Exception {
    return forwarded(8000);
  }

  /** A port of the head pod, forwarded to 127.0.0.1 here by kubectl. */
  private static String forwarded(int port) throws Exception {
    return forwarded(
        rayPods().stream().filter(p -> isA(p, "head")).findFirst().orElseThrow(), port);
  }

  /** A port of a pod, forwarded to 127.0.0.1 here by kubectl. */
  private static String forwarded(Pod pod, int port) throws Exception {
    String key = pod.getMetadata().getName() + ":" + port;
    Process running = forwards.get(key);
    if (running != null && running.isAlive()) {
      return forwardedUrls.get(key);
    }
    var builder =
        new ProcessBuilder(
                cluster.cluster().binDir().resolve("kubectl").toString(),
                "port-forward",
                "-n",
                cluster.namespace(),
                "--address",
                "127.0.0.1",
                "pod/" + pod.getMetadata().getName(),
                ":" + port)
            .redirectErrorStream(true);
    builder.environment().put("KUBECONFIG", cluster.cluster().kubeconfig().toString());
    Process forward = builder.start();
    forwards.put(key, forward);
    var lines =
        new BufferedReader(new InputStreamReader(forward.getInputStream(), StandardCharsets.UTF_8));
    Pattern forwarding = Pattern.compile("Forwarding from 127\\.0\\.0\\.1:(\\d+) -> " + port);
    String line;
    while ((line = lines.readLine()) != null) {
      Matcher m = forwarding.matcher(line);
      if (m.find()) {
        String url = "http://127.0.0.1:" + m.group(1);
        forwardedUrls.put(key, url);
        Thread drain =
            new Thread(
                () -> {
                  try {
                    while (lines.readLine() != null) {}
                  } catch (java.io.IOException closed) {
                    // The forward ended.
                  }
                });
        drain.setDaemon(true);
        drain.start();
        return url;
      }
    }
    forward.waitFor(5, TimeUnit.SECONDS);
    throw new IllegalStateException("kubectl port-forward ended before forwarding");
  }
}
