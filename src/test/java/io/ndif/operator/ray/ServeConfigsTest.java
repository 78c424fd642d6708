package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.deployment.DedicatedServices;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Serve configs the operator generates, one per fixture. Each is also written to {@value
 * #FIXTURE_DIR}, where {@code RealRayIT} checks them against Ray's own ServeDeploySchema.
 */
public class ServeConfigsTest {
  public static final String FIXTURE_DIR = "target/serve-config-fixtures";
  private static final ObjectMapper JSON = new ObjectMapper();

  static Stream<Arguments> fixtures() {
    return Stream.of(
        Arguments.of(
            "defaults",
            "model: {repoId: openai-community/gpt2}",
            Map.of(
                "/args/wrapper",
                "nnsight.modeling.language.LanguageModel",
                "/args/dtype",
                "bfloat16",
                "/args/trust_remote_code",
                "false",
                "/import_path",
                "ndif_serve.app:build",
                "/route_prefix",
                "/ns/defaults",
                "/deployments/0/num_replicas",
                "1",
                "/deployments/0/max_ongoing_requests",
                "1",
                "/deployments/0/max_queued_requests",
                "64",
                "/args/model_key",
                "nnsight.modeling.transformers.TransformersModel:{\"repo_id\":"
                    + " \"openai-community/gpt2\", \"revision\": null, \"task\":"
                    + " \"text-generation\"}",
                "/deployments/0/ray_actor_options/num_cpus",
                "1.0")),
        Arguments.of(
            "everything",
            """
            model:
              repoId: meta-llama/Llama-3.1-8B
              revision: v1
              wrapper: transformers.AutoModelForCausalLM
              dtype: float16
              trustRemoteCode: true
            replicas: 3
            maxQueuedRequests: 5
            executionTimeoutSeconds: 120
            resources: {cpus: 2}
            serve:
              importPath: my_pkg.app:build
              routePrefix: /llama
              runtimeEnv: {pip: [nnsight==0.8.1], env_vars: {HF_HUB_OFFLINE: "1"}}
              args: {max_new_tokens_limit: 64}
            """,
            Map.of(
                "/args/revision", "v1",
                "/args/trust_remote_code", "true",
                "/args/execution_timeout_seconds", "120",
                "/args/max_new_tokens_limit", "64",
                "/import_path", "my_pkg.app:build",
                "/route_prefix", "/llama",
                "/runtime_env/env_vars/HF_HUB_OFFLINE", "1",
                "/deployments/0/num_replicas", "3",
                "/deployments/0/max_queued_requests", "5",
                "/deployments/0/ray_actor_options/num_cpus", "2.0")),
        Arguments.of(
            "autoscaled",
            """
            model: {repoId: openai-community/gpt2, sizeBytes: 1Gi}
            autoscaling: {minReplicas: 1, maxReplicas: 4, targetOngoingRequests: 2}
            """,
            Map.of(
                "/deployments/0/autoscaling_config/min_replicas", "1",
                "/deployments/0/autoscaling_config/max_replicas", "4",
                "/deployments/0/autoscaling_config/target_ongoing_requests", "2.0")),
        Arguments.of(
            "float32-tiny",
            "model: {repoId: /models/tiny, dtype: float32, sizeBytes: 1Mi}",
            Map.of("/args/dtype", "float32", "/args/repo_id", "/models/tiny")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void clusterConfigs(String name, String spec, Map<String, String> expected) throws IOException {
    var deployment = deployment(name, spec);
    JsonNode config =
        JSON.valueToTree(
            ServeConfigs.config(
                List.of(new ServeConfigs.Admitted(deployment, "a100-80g", 0.25)), null));

    JsonNode app = config.path("applications").path(0);
    assertThat(config.path("applications")).hasSize(1);
    // Named and marked by namespace: tenants of one Ray cluster never meet.
    assertThat(app.path("name").asText()).isEqualTo("ns_" + name);
    assertThat(app.at("/args/cluster").asText()).isEqualTo("ns/c");
    assertThat(app.at("/args/deployment").asText()).isEqualTo("ns/" + name);
    assertThat(app.path("deployments").path(0).path("name").asText())
        .isEqualTo(ServeConfigs.MODEL_DEPLOYMENT);
    JsonNode actor = app.path("deployments").path(0).path("ray_actor_options");
    assertThat(actor.path("num_gpus").asDouble()).isEqualTo(0.25);
    assertThat(actor.path("resources").path("ndif_pool_a100_80g").asDouble()).isEqualTo(0.25);
    expected.forEach(
        (pointer, value) -> assertThat(app.at(pointer).asText()).as(pointer).isEqualTo(value));

    write("cluster-" + name, config);
  }

  @Test
  void modelReplicasDrainForTheGatewaysGracePeriod() {
    var gateway = new io.ndif.operator.api.GatewaySpec();
    gateway.limits = new io.ndif.operator.api.GatewayLimitsSpec();
    gateway.limits.drainGracePeriodSeconds = 45;
    gateway.limits.maxWaitSeconds = 90;
    var app = ServeConfigs.gateway(gateway, "/keys", "ns/c", Map.of());
    JsonNode config =
        JSON.valueToTree(
            ServeConfigs.config(
                List.of(
                    new ServeConfigs.Admitted(
                        deployment("m", "model: {repoId: a/b}"), "a100-80g", 1.0)),
                app));
    assertThat(config.at("/applications/0/deployments/0/graceful_shutdown_timeout_s").asInt())
        .isEqualTo(45);
    assertThat(config.at("/applications/1/args/drain_grace_seconds").asInt()).isEqualTo(45);
    assertThat(config.at("/applications/1/args/max_wait_seconds").asInt()).isEqualTo(90);

    JsonNode alone =
        JSON.valueToTree(
            ServeConfigs.config(
                List.of(
                    new ServeConfigs.Admitted(
                        deployment("m", "model: {repoId: a/b}"), "a100-80g", 1.0)),
                null));
    assertThat(alone.at("/applications/0/deployments/0/graceful_shutdown_timeout_s").asInt())
        .isEqualTo(300);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void dedicatedConfigs(String name, String spec, Map<String, String> expected) throws IOException {
    var deployment =
        deployment(
            name,
            spec
                + "\nisolation: Dedicated"
                + "\ndedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi},"
                + " image: registry.example/ndif-ray:1}");
    Map<String, Object> rayService = DedicatedServices.spec(deployment);
    JsonNode config = new YAMLMapper().readTree(String.valueOf(rayService.get("serveConfigV2")));

    JsonNode app = config.path("applications").path(0);
    // Alone on its own Ray cluster: its own name, no owner.
    assertThat(app.path("name").asText()).isEqualTo(name);
    assertThat(app.path("args").has("cluster")).isFalse();
    assertThat(app.at("/deployments/0/ray_actor_options/resources/ndif_pool_l4").isNumber())
        .isTrue();
    // Its own NDIF gateway, reading the keys mounted into its pods.
    JsonNode gateway = config.path("applications").path(1);
    assertThat(gateway.path("name").asText()).isEqualTo("ndif-gateway");
    assertThat(gateway.at("/args/keys_file").asText()).isEqualTo("/etc/ndif/api-keys/keys.yaml");
    expected.forEach(
        (pointer, value) -> assertThat(app.at(pointer).asText()).as(pointer).isEqualTo(value));
    JsonNode cluster = JSON.valueToTree(rayService.get("rayClusterConfig"));
    assertThat(cluster.at("/headGroupSpec/template/spec/containers/0/image").asText())
        .isEqualTo("registry.example/ndif-ray:1");
    assertThat(cluster.at("/workerGroupSpecs/0/template/spec/containers/0/image").asText())
        .isEqualTo("registry.example/ndif-ray:1");
    // The keys only where the gateway runs: the head.
    assertThat(cluster.at("/headGroupSpec/template/spec/volumes/1/secret/secretName").asText())
        .isEqualTo(name + "-api-keys");
    assertThat(
            cluster
                .at("/headGroupSpec/template/spec/containers/0/volumeMounts/1/mountPath")
                .asText())
        .isEqualTo("/etc/ndif/api-keys");
    assertThat(cluster.at("/workerGroupSpecs/0/template/spec/volumes").toString())
        .doesNotContain("api-keys");
    // Ray's token authentication on by default; KubeRay injects the token itself.
    assertThat(cluster.at("/authOptions/mode").asText()).isEqualTo("token");
    assertThat(cluster.at("/headGroupSpec/template/spec/containers/0/env").toString())
        .doesNotContain("RAY_AUTH_MODE");
    assertThat(gateway.at("/deployments/0/ray_actor_options/resources/ndif_gateway").asInt())
        .isEqualTo(1);

    write("dedicated-" + name, config);
  }

  @Test
  void aDedicatedPoolsTemplateOverrideIsMergedOrRefusedWithItsConflict() {
    String model = "model: {repoId: /models/tiny, sizeBytes: 1Mi}\n";
    var merged =
        DedicatedServices.spec(
            deployment(
                "overridden",
                model
                    + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi, template:"
                    + " {spec: {priorityClassName: research}}}}"));
    JsonNode cluster = JSON.valueToTree(merged.get("rayClusterConfig"));
    assertThat(cluster.at("/workerGroupSpecs/0/template/spec/priorityClassName").asText())
        .isEqualTo("research");
    var conflicting =
        deployment(
            "conflicting",
            model
                + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi, template: {spec:"
                + " {containers: [{name: ray-worker, resources: {limits: {nvidia.com/gpu: 4}}}]}}}}");
    assertThatThrownBy(() -> DedicatedServices.spec(conflicting))
        .hasMessage(
            "the pool's template override conflicts with what the operator sets:"
                + " dedicated.pool.template spec.containers[ray-worker].resources.limits.nvidia.com/gpu:"
                + " GPUs are set by the operator from the pool's gpusPerNode");
  }

  @Test
  void theGatewayApplicationCarriesAuthAndLimits() throws IOException {
    GatewaySpec spec =
        Serialization.unmarshal(
            """
            replicas: 2
            cpus: 0.5
            limits: {maxRequestSize: 1Mi, maxInlineResultSize: "0", resultTtlSeconds: 60}
            """,
            GatewaySpec.class);
    JsonNode app =
        JSON.valueToTree(ServeConfigs.gateway(spec, "/etc/ndif/api-keys/keys.yaml", "ns/c", null));
    assertThat(app.path("name").asText()).isEqualTo("ndif-gateway");
    assertThat(app.path("route_prefix").asText()).isEqualTo("/");
    assertThat(app.path("import_path").asText()).isEqualTo("ndif_serve.app:build_gateway");
    assertThat(app.at("/args/auth").asText()).isEqualTo("ApiKeys");
    assertThat(app.at("/args/keys_file").asText()).isEqualTo("/etc/ndif/api-keys/keys.yaml");
    assertThat(app.at("/args/max_request_bytes").asLong()).isEqualTo(1024 * 1024);
    assertThat(app.at("/args/max_inline_result_bytes").asLong()).isZero();
    assertThat(app.at("/args/result_ttl_seconds").asInt()).isEqualTo(60);
    assertThat(app.at("/deployments/0/name").asText()).isEqualTo("Gateway");
    assertThat(app.at("/deployments/0/num_replicas").asInt()).isEqualTo(2);
    assertThat(app.at("/deployments/0/ray_actor_options/num_cpus").asDouble()).isEqualTo(0.5);
    assertThat(app.at("/deployments/1/name").asText()).isEqualTo("JobBroker");
    assertThat(app.at("/deployments/1/num_replicas").asInt()).isEqualTo(1);
    write("cluster-gateway", JSON.valueToTree(Map.of("applications", List.of(app))));

    JsonNode defaults =
        JSON.valueToTree(ServeConfigs.gateway(new GatewaySpec(), "/k", "ns/c", null));
    assertThat(defaults.at("/args/max_request_bytes").asLong()).isEqualTo(64L << 20);
    assertThat(defaults.at("/args/max_inline_result_bytes").asLong()).isEqualTo(16L << 20);
    assertThat(defaults.at("/args/result_ttl_seconds").asInt()).isEqualTo(600);
  }

  @Test
  void aDedicatedDeploymentMayTurnRayTokenAuthenticationOff() {
    var deployment =
        deployment(
            "open",
            "model: {repoId: org/m, sizeBytes: 1Gi}\nisolation: Dedicated\n"
                + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi}, rayAuth: Disabled}");
    JsonNode cluster = JSON.valueToTree(DedicatedServices.spec(deployment).get("rayClusterConfig"));
    assertThat(cluster.at("/authOptions/mode").asText()).isEqualTo("disabled");
    for (String group : List.of("/headGroupSpec", "/workerGroupSpecs/0")) {
      assertThat(cluster.at(group + "/template/spec/containers/0/env").toString())
          .contains("{\"name\":\"RAY_AUTH_MODE\",\"value\":\"disabled\"}");
    }
  }

  @Test
  void aDedicatedGatewayHasItsOwnPortOnlyWhenSet() throws IOException {
    String pool = "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi}";
    var plain =
        DedicatedServices.spec(
            deployment("plain", "model: {repoId: org/m}\nisolation: Dedicated\n" + pool + "}"));
    var direct =
        DedicatedServices.spec(
            deployment(
                "direct",
                "model: {repoId: org/m}\nisolation: Dedicated\n"
                    + pool
                    + ", gateway: {directPort: 9100}}"));
    for (var entry : Map.of(plain, 0, direct, 9100).entrySet()) {
      JsonNode spec = JSON.valueToTree(entry.getKey());
      int port = entry.getValue();
      JsonNode serve = new YAMLMapper().readTree(spec.path("serveConfigV2").asText());
      JsonNode gateway = null;
      for (JsonNode app : serve.path("applications")) {
        if ("ndif-gateway".equals(app.path("name").asText())) {
          gateway = app;
        }
      }
      assertThat(gateway).isNotNull();
      assertThat(gateway.at("/args/direct_port").asInt()).isEqualTo(port);
      List<Integer> declared = new java.util.ArrayList<>();
      spec.at("/rayClusterConfig/headGroupSpec/template/spec/containers/0/ports")
          .forEach(
              p -> {
                if ("ndif-api".equals(p.path("name").asText())) {
                  declared.add(p.path("containerPort").asInt());
                }
              });
      assertThat(declared).isEqualTo(port == 0 ? List.of() : List.of(port));
    }
  }

  @Test
  void everyModelFollowsItsGatewaysTrustPolicyWhateverItsAuthorSays() {
    var deployment =
        deployment(
            "lax", "model: {repoId: org/m, sizeBytes: 1Gi}\nserve: {args: {in_process: everyone}}");
    var trusted = Serialization.unmarshal("inProcess: Trusted", GatewaySpec.class);
    JsonNode config =
        JSON.valueToTree(
            ServeConfigs.config(
                List.of(new ServeConfigs.Admitted(deployment, "a", 1.0)),
                ServeConfigs.gateway(trusted, "/k", "ns/c", null)));
    assertThat(config.at("/applications/0/args/in_process").asText()).isEqualTo("trusted");
    assertThat(config.at("/applications/1/args/in_process").asText()).isEqualTo("trusted");

    JsonNode alone =
        JSON.valueToTree(
            ServeConfigs.config(List.of(new ServeConfigs.Admitted(deployment, "a", 1.0)), null));
    assertThat(alone.at("/applications/0/args/in_process").asText()).isEqualTo("nobody");
  }

  @Test
  void authNoneWritesNoKeyFileAndAGatewayOffIsAbsent() {
    var open = Serialization.unmarshal("auth: {mode: None}", GatewaySpec.class);
    JsonNode app = JSON.valueToTree(ServeConfigs.gateway(open, null, "ns/c", null));
    assertThat(app.at("/args/auth").asText()).isEqualTo("None");
    assertThat(app.at("/args/keys_file").isMissingNode()).isTrue();
    var off = Serialization.unmarshal("enabled: false", GatewaySpec.class);
    assertThat(ServeConfigs.gateway(off, "/k", "ns/c", null)).isNull();
  }

  private static NdifDeployment deployment(String name, String spec) {
    var d = new NdifDeployment();
    d.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("ns").build());
    d.setSpec(Serialization.unmarshal("clusterRef: c\n" + spec, NdifDeploymentSpec.class));
    return d;
  }

  private static void write(String name, JsonNode config) throws IOException {
    Path dir = Path.of(FIXTURE_DIR);
    Files.createDirectories(dir);
    JSON.writerWithDefaultPrettyPrinter().writeValue(dir.resolve(name + ".json").toFile(), config);
  }
}
