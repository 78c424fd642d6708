package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;
import io.fabric8.kubernetes.api.model.EnvVar;
import java.util.ArrayList;
import java.util.List;

@JsonInclude(JsonInclude.Include.NON_NULL)
@ValidationRule(
    value =
        "!has(self.env) || !self.env.exists(e, e.name == 'RAY_ENABLE_AUTOSCALER_V2')"
            + " || (has(self.autoscaling) && has(self.autoscaling.mode)"
            + " && self.autoscaling.mode == 'Ray')",
    message =
        "env RAY_ENABLE_AUTOSCALER_V2 needs autoscaling.mode Ray (KubeRay refuses it without the"
            + " in-tree autoscaler)")
@ValidationRule(
    value =
        "!has(self.env)"
            + " || !self.env.exists(e, e.name == 'REDIS_PASSWORD' || e.name == 'RAY_REDIS_ADDRESS')"
            + " || !((has(self.faultTolerance) && has(self.faultTolerance.redis))"
            + " || (has(self.gateway) && has(self.gateway.store) && !(has(self.faultTolerance)"
            + " && has(self.faultTolerance.useGatewayStore) && !self.faultTolerance.useGatewayStore)))",
    message =
        "env REDIS_PASSWORD and RAY_REDIS_ADDRESS come from faultTolerance.redis or the gateway's"
            + " store (KubeRay refuses them beside GCS fault tolerance)")
@ValidationRule(
    value =
        "!has(self.external) || (has(self.gateway) && ((has(self.gateway.enabled) &&"
            + " !self.gateway.enabled) || (has(self.gateway.auth) && ((has(self.gateway.auth.mode)"
            + " && self.gateway.auth.mode == 'None') || has(self.gateway.auth.keysFile)))))",
    message =
        "an adopted cluster's gateway needs gateway.auth.keysFile (the API key file's path on its"
            + " Ray nodes), or gateway.auth.mode None, or gateway.enabled false")
@ValidationRule(
    value =
        "has(self.external) || !has(self.gateway) || !has(self.gateway.auth)"
            + " || !has(self.gateway.auth.keysFile)",
    message =
        "gateway.auth.keysFile is for adopted clusters; a managed cluster mounts"
            + " gateway.auth.secretName")
@ValidationRule(
    value =
        "!has(self.external) || !has(self.gateway) || (!has(self.gateway.placement)"
            + " && !has(self.gateway.workers))",
    message =
        "gateway.placement and gateway.workers are for managed clusters: an adopted cluster's"
            + " gateway runs wherever its Ray places it")
@ValidationRule(
    value =
        "!has(self.onDemand) || !has(self.gateway) || !has(self.gateway.enabled)"
            + " || self.gateway.enabled",
    message = "onDemand needs the gateway: jobs ask for models there")
public class NdifClusterSpec {
  @JsonPropertyDescription(
      "Ray version of the cluster (KubeRay's spec.rayVersion); it drives version-dependent"
          + " behaviour, not the image.")
  @Default("2.52.0")
  public String rayVersion;

  @JsonPropertyDescription("Ray container image for the head and every pool; each may override it.")
  @Default("rayproject/ray:2.52.0-gpu")
  public String image;

  @JsonPropertyDescription(
      "Models deployed when a job asks for one that nothing serves (off when absent): an"
          + " allow-list with sizes, their priority, an idle time after which they are removed and"
          + " caps. Needs the gateway.")
  public OnDemandSpec onDemand;

  @JsonPropertyDescription(
      "Keep the weights of models that stop in host memory (off when absent), so that a"
          + " preempted, scaled-down or idled-out model comes back without reading its files."
          + " Each NdifDeployment's status says HOT, WARM or COLD; placement prefers a pool that"
          + " keeps a copy.")
  public WarmTierSpec warmTier;

  @JsonPropertyDescription("The Ray head node.")
  public HeadSpec head;

  @JsonPropertyDescription(
      "GPU node pools; each becomes a KubeRay worker group. Names must be unique DNS labels.")
  @Required
  @Size(min = 1, max = 32)
  @ValidationRule(
      value = "self.all(p, self.exists_one(q, q.name == p.name))",
      message = "pool names must be unique")
  @ValidationRule(
      value = "self.all(p, p.name != 'ndif-gateway')",
      message = "the pool name ndif-gateway is the gateway's own worker group")
  public List<PoolSpec> pools = new ArrayList<>();

  @JsonPropertyDescription("How pool sizes are chosen.")
  public ClusterAutoscalingSpec autoscaling;

  @JsonPropertyDescription(
      "Environment for every Ray container (NDIF_* settings, OTEL_EXPORTER_OTLP_ENDPOINT,"
          + " LOKI_URL, ...).")
  @Size(max = 128)
  public List<EnvVar> env;

  @JsonPropertyDescription(
      "The Hugging Face cache of every Ray pod (HF_HOME): an emptyDir by default, or a hostPath or"
          + " PersistentVolumeClaim so that a model is downloaded once per node or volume.")
  public ModelCacheSpec modelCache;

  @JsonPropertyDescription(
      "Ray's token authentication on a managed cluster (KubeRay's authOptions). Token (default):"
          + " every call into Ray needs the cluster's token, which KubeRay keeps in a Secret named"
          + " like the RayCluster and gives every Ray container; the operator reads that Secret to"
          + " call the dashboard, and a contained request never holds the token. Disabled: no"
          + " token (RAY_AUTH_MODE=disabled in every Ray container, also once Ray's own default"
          + " turns it on). A cluster whose Ray pods started without it keeps it off until they"
          + " are all replaced (condition RayTokenAuth).")
  @Default("Token")
  public RayAuthMode rayAuth;

  /** Ray's own authentication of calls into the cluster. */
  public enum RayAuthMode {
    Token,
    Disabled
  }

  public RayAuthMode rayAuthOrDefault() {
    return rayAuth == null ? RayAuthMode.Token : rayAuth;
  }

  @JsonPropertyDescription(
      "A NetworkPolicy for the Ray pods of a managed cluster (off by default): only the gateway's"
          + " port from outside them, the dashboard only from whom it names.")
  public NetworkPolicySpec networkPolicy;

  @JsonPropertyDescription("GCS fault tolerance, so Serve applications survive a head restart.")
  public FaultToleranceSpec faultTolerance;

  @JsonPropertyDescription(
      "Adopt an existing Ray cluster instead of creating a RayCluster; pools then describe its"
          + " capacity for accounting only.")
  public ExternalClusterSpec external;

  @JsonPropertyDescription(
      "NDIF's API for nnsight clients (NDIF_HOST), as a Serve application on the cluster.")
  public GatewaySpec gateway;

  @JsonPropertyDescription(
      "What the cluster's owner lets Shared NdifDeployments run on it: builder import paths,"
          + " runtime environments, extra arguments, a model repository's own code. A deployment"
          + " outside it is Degraded (PolicyDenied) and never put in the Serve config.")
  public ServePolicySpec policy;

  public boolean usesExternalCluster() {
    return external != null && external.dashboardUrl != null && !external.dashboardUrl.isBlank();
  }

  public AutoscalingMode autoscalingMode() {
    return autoscaling == null || autoscaling.mode == null
        ? AutoscalingMode.Operator
        : autoscaling.mode;
  }
}
