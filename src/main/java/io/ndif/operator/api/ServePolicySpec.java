package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;
import java.util.List;

/**
 * What the cluster's owner lets NdifDeployments run on its GPUs. An import path, a runtime
 * environment, extra builder arguments and a model repository's own code are code of the deployment
 * author's choosing.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class ServePolicySpec {
  /** 'module:attribute', or a prefix ending in '*'. */
  public static final String IMPORT_PATH =
      "^[A-Za-z_][A-Za-z0-9_.]*(:[A-Za-z_][A-Za-z0-9_.]*|[*])$";

  @JsonPropertyDescription(
      "Serve application builders deployments may name in serve.importPath: an exact"
          + " 'module:attribute', 'package.*' (the package and every module below it) or another"
          + " prefix ending in '*'. Default: only the"
          + " operator's own application, "
          + ServeSpec.DEFAULT_IMPORT_PATH
          + ".")
  @Size(max = 64)
  public List<@Pattern(IMPORT_PATH) @Size(max = 256) String> allowedImportPaths;

  @JsonPropertyDescription(
      "Whether deployments may set serve.runtimeEnv (packages, working_dir, environment"
          + " variables); default false.")
  public Boolean allowRuntimeEnv;

  @JsonPropertyDescription(
      "Whether deployments may pass extra serve.args to their application builder; default true"
          + " (the operator's own application validates them).")
  public Boolean allowExtraArgs;

  @JsonPropertyDescription(
      "Whether deployments may set model.trustRemoteCode, which runs the model repository's"
          + " own Python code; default true.")
  public Boolean allowTrustRemoteCode;

  public List<String> allowedImportPathsOrDefault() {
    return allowedImportPaths == null ? List.of(ServeSpec.DEFAULT_IMPORT_PATH) : allowedImportPaths;
  }

  public static ServePolicySpec of(NdifClusterSpec cluster) {
    return cluster.policy == null ? new ServePolicySpec() : cluster.policy;
  }
}
