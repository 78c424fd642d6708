package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.OperatorSettings;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.ServeConfigsTest;
import io.ndif.operator.testing.Fixtures;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.LocalRay;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The whole path on a real Ray: the operator on the local control plane serves the project's own
 * Serve application (serve/) on a Ray head from PyPI, for a tiny model made locally with random
 * weights.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class RealRayIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP =
      HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5))
          .build();
  private static final String API_KEY = "real-ray-it-key-0123456789";
  private static LocalRay ray;
  private static Path modelDir;
  private static Path keysFile;
  private static String theirReplica;

  @BeforeAll
  static void start() throws Exception {
    ray = LocalRay.shared();
    modelDir = Path.of("target/it-tiny-model").toAbsolutePath();
    var made = ray.python(300, "-m", "ndif_serve.tiny", modelDir.toString());
    assertThat(made.exitCode()).as(made.output()).isZero();

    // An application of the adopted cluster's own, deployed before the operator comes.
    var put =
        send(
            "PUT",
            ray.dashboardUrl() + "/api/serve/applications/",
            """
            {"applications": [{"name": "theirs", "route_prefix": "/theirs",
              "import_path": "ndif_serve.app:build",
              "args": {"model_key": "theirs", "repo_id": "%s", "dtype": "float32",
                       "wrapper": "transformers.AutoModelForCausalLM"},
              "deployments": [{"name": "ModelDeployment",
                "ray_actor_options": {"num_cpus": 0.25}}]}]}
            """
                .formatted(modelDir));
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () ->
                assertThat(rayApplications().path("theirs").path("status").asText())
                    .isEqualTo("RUNNING"));
    theirReplica = theirReplica();

    keysFile = Path.of("target/it-api-keys.yaml").toAbsolutePath();
    Files.writeString(keysFile, Fixtures.trustedKeyFile(API_KEY, "it@example.org"));

    cluster.startOperator(new OperatorSettings(Set.of(cluster.namespace()), 4, Duration.ZERO));
    String yaml =
        """
        apiVersion: ndif.io/v1alpha1
        kind: NdifCluster
        metadata: {name: local}
        spec:
          external: {dashboardUrl: "%s", serveUrl: "%s"}
          gateway: {cpus: 0.25, auth: {keysFile: "%s"}}
          pools:
          - {name: %s, gpusPerNode: 1, gpuMemory: 4Gi, nodes: 1}
        """
            .formatted(ray.dashboardUrl(), ray.serveUrl(), keysFile, ray.pool());
    cluster
        .client()
        .resource(Serialization.unmarshal(yaml, NdifCluster.class))
        .inNamespace(cluster.namespace())
        .create();
  }

  @Test
  @Order(1)
  void everyGeneratedServeConfigIsAcceptedByRaysSchema() throws IOException {
    List<String> fixtures;
    try (Stream<Path> files = Files.list(Path.of(ServeConfigsTest.FIXTURE_DIR))) {
      fixtures = files.map(Path::toString).filter(f -> f.endsWith(".json")).sorted().toList();
    }
    assertThat(fixtures).as("written by ServeConfigsTest").hasSizeGreaterThanOrEqualTo(8);

    List<String> args = new ArrayList<>(List.of("serve/scripts/validate_serve_configs.py"));
    args.addAll(fixtures);
    var checked = ray.python(120, args.toArray(String[]::new));
    assertThat(checked.exitCode()).as(checked.output()).isZero();
    assertThat(checked.output().lines().filter(l -> l.startsWith("valid ")).count())
        .isEqualTo(fixtures.size());

    // The check itself can fail: a config Ray would refuse.
    Path bad = Files.createTempFile("serve-config", ".json");
    Files.writeString(
        bad,
        "{\"applications\": [{\"name\": \"x\", \"import_path\": \"a:b\","
            + " \"deployments\": [{\"name\": \"D\", \"num_replicas\": -1}]}]}");
    var refused = ray.python(120, "serve/scripts/validate_serve_configs.py", bad.toString());
    assertThat(refused.exitCode()).isEqualTo(1);
    assertThat(refused.output()).contains("invalid " + bad, "num_replicas");
  }

  @Test
  @Order(2)
  void aDeploymentIsServedByRayAndAnswersThroughServesProxy() throws Exception {
    cluster.createDeployment(
        "tiny",
        "local",
        """
        model: {repoId: "%s", dtype: float32, sizeBytes: 1Mi}
        resources: {cpus: 0.5}
        executionTimeoutSeconds: 60
        """
            .formatted(modelDir));
    cluster.awaitReady("tiny", 1, Duration.ofMinutes(5));

    JsonNode app = rayApplications().path(cluster.namespace() + "_tiny");
    assertThat(app.path("status").asText()).isEqualTo("RUNNING");
    JsonNode applied = app.path("deployed_app_config");
    assertThat(applied.path("import_path").asText()).isEqualTo("ndif_serve.app:build");
    assertThat(applied.path("args").path("repo_id").asText()).isEqualTo(modelDir.toString());
    assertThat(applied.path("route_prefix").asText())
        .isEqualTo("/" + cluster.namespace() + "/tiny");

    var status = cluster.deployment("tiny").getStatus();
    assertThat(Conditions.isTrue(status.conditions, "Ready")).isTrue();
    assertThat(status.pool).isEqualTo(ray.pool());
    var placement = status.placements.get(0);
    assertThat(placement.state).isEqualTo("RUNNING");
    assertThat(placement.nodeIp).isEqualTo("127.0.0.1");
    assertThat(placement.rayNodeId).isEqualTo(headNodeId());
    assertThat(placement.replicaId)
        .isEqualTo(app.at("/deployments/ModelDeployment/replicas/0/replica_id").asText());
    assertThat(status.endpoint).isEqualTo(ray.serveUrl() + "/" + cluster.namespace() + "/tiny");
    assertThat(placement.pool).isEqualTo(ray.pool());

    // The cluster lists the Ray node as Ray reports it, with the replica on it.
    var clusterStatus = clusterStatus();
    assertThat(clusterStatus.nodes).hasSize(1);
    var node = clusterStatus.nodes.get(0);
    assertThat(node.rayNodeId).isEqualTo(headNodeId());
    assertThat(node.nodeIp).isEqualTo("127.0.0.1");
    assertThat(node.pool).isEqualTo(ray.pool());
    assertThat(node.gpus).isEqualTo(headNode().at("/resources_total/GPU").asInt());
    // The model's replica, and the gateway's two (Gateway and JobBroker) beside it.
    assertThat(node.replicas)
        .contains(cluster.namespace() + "_tiny/" + placement.replicaId)
        .hasSize(3);
    assertThat(node.replicas.stream().filter(r -> r.startsWith("ndif-gateway/"))).hasSize(2);
    assertThat(clusterStatus.nodeSummary).isEqualTo("1/1");
    assertThat(Conditions.reason(clusterStatus.conditions, "Ready")).isEqualTo("ExternalCluster");

    JsonNode info = getJson(status.endpoint + "/info");
    assertThat(info.path("model_key").asText()).isEqualTo(status.modelKey);
    assertThat(info.path("parameters").asLong()).isGreaterThan(10_000);
    assertThat(info.path("dtype").asText()).isEqualTo("float32");
    assertThat(info.path("device").asText()).isEqualTo("cpu");
    assertThat(getJson(status.endpoint + "/healthz").path("status").asText()).isEqualTo("ok");

    var generated =
        post(status.endpoint + "/generate", "{\"prompt\": \"Ray\", \"max_new_tokens\": 3}");
    assertThat(generated.statusCode()).as(generated.body()).isEqualTo(200);
    assertThat(JSON.readTree(generated.body()).path("new_tokens").asInt()).isEqualTo(3);

    var bad = post(status.endpoint + "/generate", "{\"max_new_tokens\": 3}");
    assertThat(bad.statusCode()).isEqualTo(422);
    assertThat(bad.body()).contains("prompt");
  }

  @Test
  @Order(3)
  void nnsightsOwnClientRunsARemoteTraceThroughTheGateway() throws Exception {
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              var status = clusterStatus();
              assertThat(Conditions.reason(status.conditions, "GatewayReady")).isEqualTo("Serving");
              assertThat(status.gateway.url).isEqualTo(ray.serveUrl());
              assertThat(status.gateway.ready).isTrue();
            });
    var deployment = cluster.deployment("tiny").getStatus();
    assertThat(deployment.ndifHost).isEqualTo(ray.serveUrl());
    assertThat(deployment.modelKey)
        .isEqualTo(
            "nnsight.modeling.transformers.TransformersModel:{\"repo_id\": \""
                + modelDir
                + "\", \"revision\": null, \"task\": \"text-generation\"}");
    assertThat(rayApplications().path("ndif-gateway").path("status").asText()).isEqualTo("RUNNING");

    JsonNode traced = remoteTrace(deployment.modelKey, API_KEY);
    assertThat(traced.path("matches_local").asBoolean()).as(traced.toString()).isTrue();
    assertThat(traced.path("shape").get(2).asInt()).isEqualTo(32);

    JsonNode refused =
        remoteTrace(deployment.modelKey, "not-a-key", "--expect-error", "Invalid API key.");
    assertThat(refused.path("error").asText()).contains("Failed to send request: Invalid API key.");
  }

  @Test
  @Order(4)
  void aJobWithItsWebsocketOpenSurvivesAnotherModelBeingAdmitted() throws Exception {
    String key = cluster.deployment("tiny").getStatus().modelKey;
    var job = ray.start(remoteTraceArgs(key, API_KEY, "--busy", "20"));
    cluster.createDeployment(
        "second",
        "local",
        """
        model: {repoId: "%s", dtype: float32, sizeBytes: 1Mi, trustRemoteCode: true}
        resources: {cpus: 0.25}
        """
            .formatted(modelDir));
    cluster.awaitReady("second", 1, Duration.ofMinutes(5));
    var finished = job.await(300);
    assertThat(finished.exitCode()).as(finished.output()).isZero();
    assertThat(finished.output()).contains("\"matches_local\": true");

    // The gateway serves the new key without being redeployed.
    String secondKey = cluster.deployment("second").getStatus().modelKey;
    assertThat(secondKey).contains("\"trust_remote_code\": true");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(remoteTrace(secondKey, API_KEY).path("matches_local").asBoolean())
                    .isTrue());
    cluster.ndifDeployment("second").delete();
  }

  @Test
  @Order(5)
  void scalingToTwoReplicasShowsTwoRunningReplicas() throws Exception {
    cluster.editDeployment("tiny", d -> d.getSpec().replicas = 2);
    cluster.awaitReady("tiny", 2, Duration.ofMinutes(5));

    var placements = cluster.deployment("tiny").getStatus().placements;
    assertThat(placements)
        .hasSize(2)
        .allMatch(p -> "RUNNING".equals(p.state) && "127.0.0.1".equals(p.nodeIp));
    assertThat(placements.stream().map(p -> p.replicaId).distinct()).hasSize(2);
    assertThat(
            rayApplications()
                .path(cluster.namespace() + "_tiny")
                .at("/deployments/ModelDeployment/replicas"))
        .hasSize(2)
        .allMatch(r -> "RUNNING".equals(r.path("state").asText()));
  }

  @Test
  @Order(6)
  void aModelThatCannotLoadIsDegradedWithTheReason() {
    cluster.createDeployment(
        "missing",
        "local",
        """
        model: {repoId: "%s-missing", dtype: float32, sizeBytes: 1Mi}
        resources: {cpus: 0.5}
        """
            .formatted(modelDir));
    await()
        .atMost(Duration.ofMinutes(4))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              var conditions = cluster.deployment("missing").getStatus().conditions;
              assertThat(Conditions.isTrue(conditions, "Degraded")).isTrue();
              assertThat(Conditions.find(conditions, "Degraded").get().getMessage())
                  .contains("failed to load model", "-missing");
            });
    assertThat(Conditions.reason(cluster.deployment("missing").getStatus().conditions, "Ready"))
        .isEqualTo("DeployFailed");
  }

  @Test
  @Order(7)
  void badApplicationArgumentsAreDegradedWithTheFieldNamed() {
    cluster.createDeployment(
        "typo",
        "local",
        """
        model: {repoId: "%s", dtype: float32, sizeBytes: 1Mi}
        resources: {cpus: 0.5}
        serve: {args: {max_new_token_limit: 8}}
        """
            .formatted(modelDir));
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () ->
                assertThat(
                        Conditions.find(
                                cluster.deployment("typo").getStatus().conditions, "Degraded")
                            .get()
                            .getMessage())
                    .contains("max_new_token_limit", "Extra inputs are not permitted"));
  }

  @Test
  @Order(8)
  void deletingDeploymentsRemovesTheirApplicationsFromRayAndKeepsTheClustersOwn() throws Exception {
    String tinyKey = cluster.deployment("tiny").getStatus().modelKey;
    var clusterStatus = clusterStatus();
    assertThat(clusterStatus.serve.otherApplications).containsExactly("theirs");

    // A deployment named like their application is served beside it, under its namespace's name.
    cluster.createDeployment(
        "theirs",
        "local",
        "model: {repoId: \"%s\", dtype: float32, sizeBytes: 1Mi}\nresources: {cpus: 0.25}"
            .formatted(modelDir));
    cluster.awaitReady("theirs", 1, Duration.ofMinutes(3));
    assertThat(
            rayApplications()
                .path(cluster.namespace() + "_theirs")
                .path("deployed_app_config")
                .path("args")
                .path("deployment")
                .asText())
        .isEqualTo(cluster.namespace() + "/theirs");
    assertThat(clusterStatus().serve.otherApplications).containsExactly("theirs");

    for (String name : List.of("tiny", "missing", "typo", "theirs")) {
      cluster.ndifDeployment(name).delete();
    }
    await()
        .atMost(Duration.ofMinutes(2))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () ->
                assertThat(names(rayApplications()))
                    .containsExactlyInAnyOrder("theirs", "ndif-gateway"));
    // Every PUT of the operator carried it unchanged: the replica deployed first still serves.
    assertThat(rayApplications().path("theirs").path("status").asText()).isEqualTo("RUNNING");
    assertThat(theirReplica()).isEqualTo(theirReplica);

    // A researcher still asking for the deleted model hears that it is not served here.
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(
                        remoteTrace(tinyKey, API_KEY, "--expect-error", "is not served here")
                            .path("error")
                            .asText())
                    .contains("The model " + tinyKey + " is not served here"));
  }

  @Test
  @Order(9)
  void aModelAResearcherAsksForIsDeployedOnDemandAndRemovedWhenIdle() throws Exception {
    String repo = ray.env("NDIF_TINY_MODEL");
    cluster
        .ndifCluster("local")
        .edit(
            c -> {
              c.getSpec().onDemand =
                  Serialization.unmarshal(
                      """
                      models:
                      - {repoId: "ndif-local/*", sizeBytes: 1Mi, dtype: float32,
                         resources: {cpus: 0.25}}
                      idleSeconds: 30
                      maxWaitSeconds: 300
                      """,
                      io.ndif.operator.api.OnDemandSpec.class);
              c.getSpec().warmTier = new io.ndif.operator.api.WarmTierSpec();
              c.getSpec().warmTier.budget = "1Gi";
              return c;
            });
    // What a researcher writes, run as one: nothing serves the model yet.
    var traced = researcherTrace();
    assertThat(traced.exitCode()).as(traced.output()).isZero();
    assertThat(traced.output())
        .contains("PROVISIONING")
        .contains("is being deployed on demand")
        .contains("hidden state of layer 0: (1, ");

    String name = io.ndif.operator.ondemand.OnDemandDeployments.name(repo);
    var made = cluster.deployment(name);
    assertThat(made.getMetadata().getLabels()).containsEntry("ndif.io/on-demand", "true");
    assertThat(made.getMetadata().getOwnerReferences())
        .extracting(r -> r.getKind() + "/" + r.getName())
        .containsExactly("NdifCluster/local");
    assertThat(made.getSpec().priority).isEqualTo(-100);
    assertThat(
            cluster.events().stream()
                .filter(e -> "OnDemandDeployed".equals(e.getReason()))
                .map(e -> e.getMessage()))
        .anySatisfy(
            m -> assertThat(m).startsWith("created NdifDeployment " + name + " for " + repo));

    // A model outside the allow-list ends at once, with the sentence.
    String unlisted =
        "nnsight.modeling.transformers.TransformersModel:{\"repo_id\": \"elsewhere/unlisted\","
            + " \"revision\": null, \"task\": \"text-generation\"}";
    var refused =
        remoteTrace(unlisted, API_KEY, "--expect-error", "deploys on demand only models matching");
    assertThat(refused.path("error").asText())
        .contains(
            "is not served here, and this cluster deploys on demand only models matching"
                + " ndif-local/*.");

    // Idle for its idle time: deleted, with an Event; its application leaves Ray.
    await()
        .atMost(Duration.ofMinutes(3))
        .pollInterval(Duration.ofSeconds(2))
        .untilAsserted(
            () -> {
              assertThat(cluster.ndifDeployment(name).get()).isNull();
              assertThat(
                      cluster.events().stream()
                          .filter(e -> "OnDemandIdle".equals(e.getReason()))
                          .map(e -> e.getMessage()))
                  .anySatisfy(m -> assertThat(m).startsWith("deleted NdifDeployment " + name));
              assertThat(names(rayApplications())).doesNotContain(cluster.namespace() + "_" + name);
            });

    // Its weights stayed on the node (the warm tier): the cluster's status says so, and the next
    // researcher's request brings it back from memory, with the same answer.
    String key = io.ndif.operator.deployment.ModelKeys.of(modelOf(repo));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(cluster.ndifCluster("local").get().getStatus().warmCopies)
                    .anySatisfy(
                        copy -> {
                          assertThat(copy.modelKey).isEqualTo(key);
                          assertThat(copy.deployment).isEqualTo(cluster.namespace() + "/" + name);
                          assertThat(copy.pool).isEqualTo(ray.pool());
                          assertThat(copy.bytes).isPositive();
                        }));
    var again = researcherTrace();
    assertThat(again.exitCode()).as(again.output()).isZero();
    assertThat(hiddenLine(again.output())).isEqualTo(hiddenLine(traced.output()));
    // Status follows what Ray reports, a moment after the replica answered.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> assertThat(cluster.deployment(name).getStatus().level).isEqualTo("HOT"));
    var back = cluster.deployment(name).getStatus();
    assertThat(getJson(back.endpoint + "/info").path("load_source").asText()).isEqualTo("warm");
    cluster.ndifDeployment(name).delete();
  }

  /** What a researcher writes (examples/real-ray/trace.py), run as one against the gateway. */
  private static io.ndif.operator.testing.LocalCluster.Result researcherTrace() throws Exception {
    return io.ndif.operator.testing.LocalCluster.exec(
        List.of(ray.pythonPath().toString(), "examples/real-ray/trace.py"),
        java.util.Map.of(
            "NDIF_HOST", ray.serveUrl(),
            "NDIF_API_KEY", API_KEY,
            "HF_HOME", ray.env("HF_HOME"),
            "HF_ENDPOINT", ray.env("HF_ENDPOINT")),
        Path.of("").toAbsolutePath(),
        600);
  }

  private static String hiddenLine(String output) {
    return output
        .lines()
        .filter(l -> l.startsWith("hidden state of layer 0:"))
        .findFirst()
        .orElse("");
  }

  private static io.ndif.operator.api.ModelSpec modelOf(String repo) {
    var model = new io.ndif.operator.api.ModelSpec();
    model.repoId = repo;
    return model;
  }

  @Test
  @Order(10)
  void aRunningJobSurvivesThePreemptionOfItsModel() throws Exception {
    cluster.createDeployment(
        "victim",
        "local",
        "model: {repoId: \"%s\", dtype: float32, sizeBytes: 3Gi}\nresources: {cpus: 0.25}"
            .formatted(modelDir));
    cluster.awaitReady("victim", 1, Duration.ofMinutes(3));
    String key = cluster.deployment("victim").getStatus().modelKey;
    // A job that spins for 20 s on the replica; the higher priority comes while it runs.
    var running = ray.start(remoteTraceArgs(key, API_KEY, "--busy", "20"));
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(500))
        .until(() -> Files.readString(running.log()).contains("RUNNING"));
    cluster.createDeployment(
        "preemptor",
        "local",
        "model: {repoId: \"%s/\", dtype: float32, sizeBytes: 3Gi}\npriority: 10\nresources: {cpus: 0.25}"
            .formatted(modelDir));
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () ->
                assertThat(
                        Conditions.reason(
                            cluster.deployment("victim").getStatus().conditions, "Scheduled"))
                    .isEqualTo("Preempted"));
    // The preempted replica drains: the job it runs finishes with the right values.
    var finished = running.await(120);
    String last = finished.output().lines().filter(l -> l.startsWith("{")).reduce("", (a, b) -> b);
    assertThat(finished.exitCode()).as(finished.output()).isZero();
    assertThat(JSON.readTree(last).path("matches_local").asBoolean()).as(last).isTrue();
    // Then the preemptor's replica gets the GPU the drained one gave back, and the victim's
    // weights stay warm on the node.
    cluster.awaitReady("preemptor", 1, Duration.ofMinutes(3));
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> assertThat(cluster.deployment("victim").getStatus().level).isEqualTo("WARM"));
    cluster.ndifDeployment("victim").delete();
    cluster.ndifDeployment("preemptor").delete();
  }

  private static String[] remoteTraceArgs(String key, String apiKey, String... more) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "serve/scripts/remote_trace.py",
                "--host",
                ray.serveUrl(),
                "--model-key",
                key,
                "--model-dir",
                modelDir.toString(),
                "--api-key",
                apiKey));
    args.addAll(List.of(more));
    return args.toArray(String[]::new);
  }

  /** nnsight's own client, in the Ray environment, against the cluster's gateway. */
  private static JsonNode remoteTrace(String key, String apiKey, String... more) throws Exception {
    var run = ray.python(300, remoteTraceArgs(key, apiKey, more));
    String last = run.output().lines().filter(l -> l.startsWith("{")).reduce("", (a, b) -> b);
    assertThat(run.exitCode()).as(run.output()).isZero();
    return JSON.readTree(last);
  }

  private static NdifClusterStatus clusterStatus() {
    return cluster.ndifCluster("local").get().getStatus();
  }

  private static String theirReplica() throws Exception {
    return rayApplications()
        .at("/theirs/deployments/ModelDeployment/replicas/0/replica_id")
        .asText();
  }

  private static JsonNode rayApplications() throws Exception {
    return getJson(ray.dashboardUrl() + "/api/serve/applications/").path("applications");
  }

  private static List<String> names(JsonNode applications) {
    List<String> names = new ArrayList<>();
    applications.fieldNames().forEachRemaining(names::add);
    return names;
  }

  private static String headNodeId() throws Exception {
    return headNode().path("node_id").asText();
  }

  private static JsonNode headNode() throws Exception {
    JsonNode nodes =
        getJson(ray.dashboardUrl() + "/api/v0/nodes?detail=true").at("/data/result/result");
    assertThat(nodes).hasSize(1);
    return nodes.get(0);
  }

  private static JsonNode getJson(String url) throws Exception {
    var response =
        HTTP.send(
            HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).as(url + ": " + response.body()).isEqualTo(200);
    return JSON.readTree(response.body());
  }

  private static HttpResponse<String> post(String url, String body) throws Exception {
    return send("POST", url, body);
  }

  private static HttpResponse<String> send(String method, String url, String body)
      throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create(url))
            .timeout(Duration.ofSeconds(60))
            .header("Content-Type", "application/json")
            .method(method, HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
