package io.ndif.operator.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.testing.LocalClusterExtension;
import io.ndif.operator.testing.OperatorCrds;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The API server rejects bad NdifClusters and NdifDeployments with a message naming the rule. */
class CrdValidationIT {
  @RegisterExtension static LocalClusterExtension cluster = new LocalClusterExtension();

  private static final String POOL = "{name: a100, gpusPerNode: 8, gpuMemory: 80Gi}";

  @BeforeAll
  static void installCrds() {
    OperatorCrds.install(cluster.client(), cluster.cluster().projectDir());
  }

  static Stream<Arguments> invalidClusters() {
    return Stream.of(
        Arguments.of(
            "on demand without the gateway",
            "pools: ["
                + POOL
                + "]\ngateway: {enabled: false}\nonDemand: {models: [{repoId: 'a/*'}]}",
            "onDemand needs the gateway"),
        Arguments.of(
            "on demand with no models",
            "pools: [" + POOL + "]\nonDemand: {models: []}",
            "spec.onDemand.models"),
        Arguments.of(
            "an on-demand pattern with a space",
            "pools: [" + POOL + "]\nonDemand: {models: [{repoId: 'a/b c'}]}",
            "spec.onDemand.models[0].repoId"),
        Arguments.of(
            "the gateway's own port on Serve's",
            "pools: [" + POOL + "]\ngateway: {directPort: 8000}",
            "directPort must be 0 (off) or a port from 1024 up that Ray does not use"),
        Arguments.of(
            "the gateway's own port below 1024",
            "pools: [" + POOL + "]\ngateway: {directPort: 80}",
            "directPort must be 0 (off) or a port from 1024 up that Ray does not use"),
        Arguments.of(
            "a pool named as the gateway's group",
            "pools: [{name: ndif-gateway, gpusPerNode: 8, gpuMemory: 80Gi}]",
            "the pool name ndif-gateway is the gateway's own worker group"),
        Arguments.of(
            "an adopted cluster's gateway on workers",
            "pools: ["
                + POOL
                + "]\nexternal: {dashboardUrl: 'http://127.0.0.1:8265'}\n"
                + "gateway: {placement: Workers, auth: {mode: None}}",
            "gateway.placement and gateway.workers are for managed clusters"),
        Arguments.of("no pools", "pools: []", "spec.pools"),
        Arguments.of("pools missing", "rayVersion: '2.52.0'", "spec.pools: Required value"),
        Arguments.of(
            "duplicate pool names",
            "pools: [" + POOL + ", " + POOL + "]",
            "pool names must be unique"),
        Arguments.of(
            "pool name not a DNS label",
            "pools: [{name: A_100, gpusPerNode: 8, gpuMemory: 80Gi}]",
            "spec.pools[0].name"),
        Arguments.of(
            "zero GPUs",
            "pools: [{name: a100, gpusPerNode: 0, gpuMemory: 80Gi}]",
            "spec.pools[0].gpusPerNode"),
        Arguments.of(
            "minNodes above maxNodes",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 1, minNodes: 3, maxNodes: 2}]",
            "minNodes must not exceed nodes"),
        Arguments.of(
            "nodes above maxNodes",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 3, maxNodes: 2}]",
            "nodes must not exceed maxNodes"),
        Arguments.of(
            "negative GPU memory",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: '-80Gi'}]",
            "gpuMemory must be a positive quantity"),
        Arguments.of(
            "non-numeric GPU memory",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: lots}]",
            "gpuMemory must be a positive quantity"),
        Arguments.of(
            "ray start resources",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: 80Gi,"
                + " rayStartParams: {resources: '{\"x\": 1}'}}]",
            "rayStartParams.resources is set by the operator"),
        Arguments.of(
            "idle timeout below zero",
            "pools: [" + POOL + "]\nautoscaling: {mode: Ray, idleTimeoutSeconds: -1}",
            "spec.autoscaling.idleTimeoutSeconds"),
        Arguments.of(
            "unknown autoscaling mode",
            "pools: [" + POOL + "]\nautoscaling: {mode: Sometimes}",
            "spec.autoscaling.mode: Unsupported value"),
        Arguments.of(
            "dashboard URL without a scheme",
            "pools: ["
                + POOL
                + "]\nexternal: {dashboardUrl: 'ray-head:8265'}\n"
                + "gateway: {enabled: false}",
            "spec.external.dashboardUrl"),
        Arguments.of(
            "serve URL without a scheme",
            "pools: ["
                + POOL
                + "]\nexternal: {dashboardUrl: 'http://h:8265', serveUrl: 'h:8000'}\n"
                + "gateway: {enabled: false}",
            "spec.external.serveUrl"),
        Arguments.of(
            "keys file not absolute",
            "pools: ["
                + POOL
                + "]\nexternal: {dashboardUrl: 'http://h:8265'}\n"
                + "gateway: {auth: {keysFile: keys.yaml}}",
            "spec.gateway.auth.keysFile"),
        Arguments.of(
            "unknown gateway auth mode",
            "pools: [" + POOL + "]\ngateway: {auth: {mode: Basic}}",
            "spec.gateway.auth.mode: Unsupported value"),
        Arguments.of(
            "gateway Secret key with a slash",
            "pools: [" + POOL + "]\ngateway: {auth: {secretKey: 'a/b'}}",
            "spec.gateway.auth.secretKey"),
        Arguments.of(
            "gateway Secret name not a DNS name",
            "pools: [" + POOL + "]\ngateway: {auth: {secretName: 'Keys_Secret'}}",
            "spec.gateway.auth.secretName"),
        Arguments.of(
            "gateway CPUs above 64",
            "pools: [" + POOL + "]\ngateway: {cpus: 65}",
            "spec.gateway.cpus"),
        Arguments.of(
            "no gateway replicas",
            "pools: [" + POOL + "]\ngateway: {replicas: 0}",
            "spec.gateway.replicas"),
        Arguments.of(
            "result TTL under ten seconds",
            "pools: [" + POOL + "]\ngateway: {limits: {resultTtlSeconds: 5}}",
            "spec.gateway.limits.resultTtlSeconds"),
        Arguments.of(
            "request size not a quantity",
            "pools: [" + POOL + "]\ngateway: {limits: {maxRequestSize: big}}",
            "maxRequestSize must be a positive quantity"),
        Arguments.of(
            "inline result size not a quantity",
            "pools: [" + POOL + "]\ngateway: {limits: {maxInlineResultSize: lots}}",
            "maxInlineResultSize must be a quantity"),
        Arguments.of(
            "unknown head Service type",
            "pools: [" + POOL + "]\nhead: {serviceType: Headless}",
            "spec.head.serviceType: Unsupported value"),
        Arguments.of(
            "model cache path not absolute",
            "pools: [" + POOL + "]\nmodelCache: {mountPath: cache}",
            "spec.modelCache.mountPath"),
        Arguments.of(
            "GPUs per node above 64",
            "pools: [{name: a100, gpusPerNode: 65, gpuMemory: 80Gi}]",
            "spec.pools[0].gpusPerNode"),
        Arguments.of(
            "more than 1000 nodes",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: 80Gi, nodes: 1001, maxNodes: 1001}]",
            "spec.pools[0].nodes"),
        Arguments.of(
            "a pool name longer than 40",
            "pools: [{name: " + "a".repeat(41) + ", gpusPerNode: 8, gpuMemory: 80Gi}]",
            "spec.pools[0].name"),
        Arguments.of(
            "a GPU product longer than a label value",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: 80Gi, gpuProduct: "
                + "x".repeat(64)
                + "}]",
            "spec.pools[0].gpuProduct"),
        Arguments.of(
            "an allowed import path that is not one",
            "pools: [" + POOL + "]\npolicy: {allowedImportPaths: ['rm -rf /']}",
            "spec.policy.allowedImportPaths[0]"),
        Arguments.of(
            "ray start GPUs",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: 80Gi,"
                + " rayStartParams: {num-gpus: '4'}}]",
            "rayStartParams.num-gpus is set by the operator from gpusPerNode"),
        Arguments.of(
            "ray start labels",
            "pools: [{name: a100, gpusPerNode: 8, gpuMemory: 80Gi,"
                + " rayStartParams: {labels: 'a=b'}}]",
            "rayStartParams.labels is refused by KubeRay"),
        Arguments.of(
            "autoscaler v2 without the in-tree autoscaler",
            "pools: [" + POOL + "]\nenv: [{name: RAY_ENABLE_AUTOSCALER_V2, value: '1'}]",
            "env RAY_ENABLE_AUTOSCALER_V2 needs autoscaling.mode Ray"),
        Arguments.of(
            "redis password beside fault tolerance",
            "pools: ["
                + POOL
                + "]\nfaultTolerance: {redis: {address: 'redis:6379'}}\n"
                + "env: [{name: REDIS_PASSWORD, value: x}]",
            "env REDIS_PASSWORD and RAY_REDIS_ADDRESS come from faultTolerance.redis or the"
                + " gateway's store"),
        Arguments.of(
            "redis address beside the gateway's store",
            "pools: ["
                + POOL
                + "]\ngateway: {store: {address: 'jobs:6379'}}\n"
                + "env: [{name: RAY_REDIS_ADDRESS, value: x}]",
            "env REDIS_PASSWORD and RAY_REDIS_ADDRESS come from faultTolerance.redis or the"
                + " gateway's store"),
        Arguments.of(
            "unknown autoscaling mode",
            "pools: [" + POOL + "]\nautoscaling: {mode: Sometimes}",
            "spec.autoscaling.mode: Unsupported value"),
        Arguments.of(
            "adopted cluster's gateway without a key file",
            "pools: [" + POOL + "]\nexternal: {dashboardUrl: 'http://ray:8265'}",
            "an adopted cluster's gateway needs gateway.auth.keysFile"),
        Arguments.of(
            "managed cluster with a key file path",
            "pools: [" + POOL + "]\ngateway: {auth: {keysFile: /keys.yaml}}",
            "gateway.auth.keysFile is for adopted clusters"),
        Arguments.of(
            "two model cache volumes",
            "pools: [" + POOL + "]\nmodelCache: {emptyDir: {}, hostPath: {path: /var/lib/hf}}",
            "modelCache takes one of emptyDir, hostPath and persistentVolumeClaim"),
        Arguments.of(
            "a relative model cache path",
            "pools: [" + POOL + "]\nmodelCache: {mountPath: cache}",
            "spec.modelCache.mountPath"),
        Arguments.of(
            "unknown auth mode",
            "pools: [" + POOL + "]\ngateway: {auth: {mode: Maybe}}",
            "spec.gateway.auth.mode: Unsupported value"),
        Arguments.of(
            "gateway replicas 0",
            "pools: [" + POOL + "]\ngateway: {replicas: 0}",
            "spec.gateway.replicas"),
        Arguments.of(
            "request size not a quantity",
            "pools: [" + POOL + "]\ngateway: {limits: {maxRequestSize: big}}",
            "maxRequestSize must be a positive quantity"),
        Arguments.of(
            "negative inline result size",
            "pools: [" + POOL + "]\ngateway: {limits: {maxInlineResultSize: '-1'}}",
            "maxInlineResultSize must be a quantity"),
        Arguments.of(
            "result links that live too short",
            "pools: [" + POOL + "]\ngateway: {limits: {resultTtlSeconds: 1}}",
            "spec.gateway.limits.resultTtlSeconds"),
        Arguments.of(
            "key Secret name not a DNS name",
            "pools: [" + POOL + "]\ngateway: {auth: {secretName: Not_A_Name}}",
            "spec.gateway.auth.secretName"));
  }

  static Stream<Arguments> invalidDeployments() {
    return Stream.of(
        Arguments.of(
            "a window with both cron and start",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nschedule: {windows: [{cron: '0 9 * * *',"
                + " duration: 1h, start: '2026-12-10T09:00', end: '2026-12-10T10:00'}]}",
            "a window has either cron (with duration) or start (with end)"),
        Arguments.of(
            "a cron window without duration",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nschedule: {windows: [{cron: '0 9 * * *'}]}",
            "cron and duration go together"),
        Arguments.of(
            "a one-off window without end",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nschedule: {windows: [{start: '2026-12-10T09:00'}]}",
            "start and end go together"),
        Arguments.of(
            "a duration in days",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nschedule: {windows: [{cron: '0 9 * * *',"
                + " duration: 2d}]}",
            "spec.schedule.windows[0].duration"),
        Arguments.of(
            "a schedule without windows",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nschedule: {windows: []}",
            "spec.schedule.windows"),
        Arguments.of(
            "minReplicas above maxReplicas",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nautoscaling: {minReplicas: 3, maxReplicas: 2}",
            "minReplicas must not exceed maxReplicas"),
        Arguments.of(
            "no autoscaled replicas at most",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nautoscaling: {maxReplicas: 0}",
            "spec.autoscaling.maxReplicas"),
        Arguments.of(
            "clusterRef not a DNS label",
            "clusterRef: Fleet_1\nmodel: {repoId: gpt2}",
            "spec.clusterRef"),
        Arguments.of(
            "a dedicated gateway on workers",
            "model: {repoId: org/m}\nisolation: Dedicated\n"
                + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi},"
                + " gateway: {placement: Workers}}",
            "a Dedicated deployment's gateway runs on its RayService's head"),
        Arguments.of(
            "dedicated pool without GPUs",
            "isolation: Dedicated\nmodel: {repoId: gpt2}\n"
                + "dedicated: {pool: {name: l4, gpusPerNode: 0, gpuMemory: 24Gi}}",
            "spec.dedicated.pool.gpusPerNode"),
        Arguments.of(
            "dedicated pool's ray start resources",
            "isolation: Dedicated\nmodel: {repoId: gpt2}\n"
                + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi,"
                + " rayStartParams: {resources: '{}'}}}",
            "rayStartParams.resources is set by the operator"),
        Arguments.of(
            "unknown upgrade strategy",
            "isolation: Dedicated\nmodel: {repoId: gpt2}\n"
                + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi},"
                + " upgradeStrategy: Rolling}",
            "spec.dedicated.upgradeStrategy: Unsupported value"),
        Arguments.of(
            "dedicated gateway with no replicas",
            "isolation: Dedicated\nmodel: {repoId: gpt2}\n"
                + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi},"
                + " gateway: {replicas: 0}}",
            "spec.dedicated.gateway.replicas"),
        Arguments.of(
            "dedicated model cache with two volumes",
            "isolation: Dedicated\nmodel: {repoId: gpt2}\n"
                + "dedicated: {pool: {name: l4, gpusPerNode: 1, gpuMemory: 24Gi},"
                + " modelCache: {emptyDir: {}, hostPath: {path: /cache}}}",
            "modelCache takes one of emptyDir, hostPath and persistentVolumeClaim"),
        Arguments.of(
            "no execution time",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nexecutionTimeoutSeconds: 0",
            "spec.executionTimeoutSeconds"),
        Arguments.of(
            "unknown isolation",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nisolation: Private",
            "spec.isolation: Unsupported value"),
        Arguments.of(
            "a queue above 100000",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nmaxQueuedRequests: 100001",
            "spec.maxQueuedRequests"),
        Arguments.of(
            "no parameters",
            "clusterRef: fleet\nmodel: {repoId: gpt2, parameters: 0}",
            "spec.model.parameters"),
        Arguments.of(
            "an empty repo id", "clusterRef: fleet\nmodel: {repoId: ''}", "spec.model.repoId"),
        Arguments.of(
            "a revision longer than 128",
            "clusterRef: fleet\nmodel: {repoId: gpt2, revision: " + "r".repeat(129) + "}",
            "spec.model.revision"),
        Arguments.of(
            "a pool to place on that is no pool name",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nplacement: {pool: A100}",
            "spec.placement.pool"),
        Arguments.of(
            "negative replicas",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nreplicas: -1",
            "spec.replicas"),
        Arguments.of(
            "a route prefix without its slash",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nserve: {routePrefix: models/gpt2}",
            "spec.serve.routePrefix"),
        Arguments.of(
            "a route prefix ending in a slash",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nserve: {routePrefix: /models/}",
            "spec.serve.routePrefix"),
        Arguments.of(
            "a queue of none",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nmaxQueuedRequests: 0",
            "spec.maxQueuedRequests"),
        Arguments.of(
            "task not a task name",
            "clusterRef: fleet\nmodel: {repoId: gpt2, task: 'Text Generation'}",
            "spec.model.task"),
        Arguments.of(
            "unknown dtype",
            "clusterRef: fleet\nmodel: {repoId: gpt2, dtype: int3}",
            "spec.model.dtype: Unsupported value"),
        Arguments.of(
            "shared without clusterRef",
            "model: {repoId: gpt2}",
            "clusterRef is required for Shared isolation"),
        Arguments.of(
            "dedicated without pool",
            "isolation: Dedicated\nmodel: {repoId: gpt2}",
            "isolation Dedicated requires dedicated.pool"),
        Arguments.of("model missing", "clusterRef: fleet", "spec.model: Required value"),
        Arguments.of(
            "negative size",
            "clusterRef: fleet\nmodel: {repoId: gpt2, sizeBytes: '-1Gi'}",
            "sizeBytes must be a positive quantity"),
        Arguments.of(
            "fractional GPUs above one",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nresources: {gpus: 1.5}",
            "gpus above 1 must be a whole number"),
        Arguments.of(
            "zero GPUs",
            "clusterRef: fleet\nmodel: {repoId: gpt2}\nresources: {gpus: 0}",
            "gpus must be greater than 0"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidClusters")
  void rejectsInvalidClusters(String name, String spec, String message) {
    assertRejected("NdifCluster", spec, message);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("invalidDeployments")
  void rejectsInvalidDeployments(String name, String spec, String message) {
    assertRejected("NdifDeployment", spec, message);
  }

  @Test
  void aDedicatedDeploymentsNameMustFitKubeRaysRayServiceName() {
    String dedicated =
        "isolation: Dedicated\nmodel: {repoId: gpt2}\n"
            + "dedicated: {pool: {name: a100, gpusPerNode: 8, gpuMemory: 80Gi}}";
    for (String name : List.of("d".repeat(48), "1-starts-with-a-digit", "has.a.dot")) {
      assertThatThrownBy(() -> create("NdifDeployment", name, dedicated))
          .as(name)
          .isInstanceOfSatisfying(
              KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(422))
          .hasMessageContaining("a Dedicated deployment's name names its RayService");
    }
    assertThat(create("NdifDeployment", "d".repeat(47), dedicated).getMetadata().getUid())
        .isNotNull();
    // A Shared deployment's name is only a Serve application's name.
    assertThat(
            create("NdifDeployment", "shared.with.dots", "clusterRef: fleet\nmodel: {repoId: gpt2}")
                .getMetadata()
                .getUid())
        .isNotNull();
  }

  @Test
  void theGatewaysApplicationNameIsNoDeploymentsName() {
    assertThatThrownBy(
            () ->
                create(
                    "NdifDeployment", "ndif-gateway", "clusterRef: fleet\nmodel: {repoId: gpt2}"))
        .hasMessageContaining("ndif-gateway is the name of the cluster's NDIF gateway application");
  }

  @Test
  void anAdoptedClusterMayTurnAuthOffOrTheGatewayOffExplicitly() {
    String external = "pools: [" + POOL + "]\nexternal: {dashboardUrl: 'http://ray:8265'}\n";
    assertThat(create("NdifCluster", "open", external + "gateway: {auth: {mode: None}}"))
        .isNotNull();
    assertThat(create("NdifCluster", "off", external + "gateway: {enabled: false}")).isNotNull();
    assertThat(
            create(
                "NdifCluster", "keys", external + "gateway: {auth: {keysFile: /etc/ndif/k.yaml}}"))
        .isNotNull();
  }

  @Test
  void acceptsAutoscalerV2WithTheInTreeAutoscaler() {
    var created =
        create(
            "NdifCluster",
            "autoscaled",
            "pools: ["
                + POOL
                + "]\nautoscaling: {mode: Ray}\nenv: [{name: RAY_ENABLE_AUTOSCALER_V2, value: '1'}]");
    assertThat(created.getMetadata().getUid()).isNotNull();
  }

  @Test
  void keepsEveryFieldOfATemplateOverride() {
    var created =
        create(
            "NdifCluster",
            "overridden",
            "pools: ["
                + POOL.replace(
                    "}",
                    ", template: {metadata: {annotations: {a: b}}, spec: {priorityClassName: high,"
                        + " containers: [{name: ray-worker, volumeMounts: [{name: x, mountPath:"
                        + " /x}]}]}}}")
                + "]\nhead: {template: {spec: {securityContext: {fsGroup: 1000}}}}");
    var spec = spec(created).toString();
    assertThat(spec)
        .contains("annotations={a=b}", "priorityClassName=high", "mountPath=/x", "fsGroup=1000");
  }

  @Test
  void acceptsAValidClusterAndFillsDefaults() {
    var created = create("NdifCluster", "ok", "pools: [" + POOL + "]");
    var spec = spec(created);
    assertThat(spec.get("rayVersion")).isNotNull();
    @SuppressWarnings("unchecked")
    var pool = ((java.util.List<java.util.Map<String, Object>>) spec.get("pools")).get(0);
    assertThat(pool).containsEntry("nodes", 1).containsEntry("minNodes", 0);
    // The gateway is on, with API keys, unless spec.gateway says otherwise.
    assertThat(spec.get("gateway")).isNull();
    var gateway = create("NdifCluster", "gw", "pools: [" + POOL + "]\ngateway: {auth: {}}");
    assertThat(spec(gateway).get("gateway").toString())
        .contains("enabled=true", "replicas=1", "mode=ApiKeys");
  }

  @Test
  void acceptsAValidDeploymentAndFillsDefaults() {
    var created =
        create(
            "NdifDeployment",
            "ok",
            "clusterRef: fleet\nmodel: {repoId: gpt2, sizeBytes: 1Gi}\nresources: {gpus: 0.25}");
    @SuppressWarnings("unchecked")
    var model = (java.util.Map<String, Object>) spec(created).get("model");
    assertThat(model)
        .containsEntry("dtype", "bfloat16")
        .containsEntry("wrapper", "nnsight.modeling.language.LanguageModel");
    assertThat(spec(created))
        .containsEntry("isolation", "Shared")
        .containsEntry("replicas", 1)
        .containsEntry("maxQueuedRequests", 64);
  }

  private static void assertRejected(String kind, String spec, String message) {
    assertThatThrownBy(() -> create(kind, "bad", spec))
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(422))
        .hasMessageContaining(message);
  }

  private static GenericKubernetesResource create(String kind, String name, String specYaml) {
    var resource =
        Serialization.unmarshal(
            "apiVersion: ndif.io/v1alpha1\nkind: "
                + kind
                + "\nmetadata: {name: "
                + name
                + "}\nspec:\n"
                + specYaml.lines().map(l -> "  " + l).reduce("", (a, b) -> a + b + "\n"),
            GenericKubernetesResource.class);
    return cluster
        .client()
        .genericKubernetesResources("ndif.io/v1alpha1", kind)
        .inNamespace(cluster.namespace())
        .resource(resource)
        .create();
  }

  @SuppressWarnings("unchecked")
  private static java.util.Map<String, Object> spec(GenericKubernetesResource resource) {
    return (java.util.Map<String, Object>) resource.getAdditionalProperties().get("spec");
  }
}
