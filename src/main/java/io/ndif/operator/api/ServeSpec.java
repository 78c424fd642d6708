package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.kubernetes.api.model.AnyType;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ServeSpec {
  /** The application the operator serves by default (the package under serve/). */
  public static final String DEFAULT_IMPORT_PATH = "ndif_serve.app:build";

  @JsonPropertyDescription(
      "Python import path of the Serve application builder; default "
          + DEFAULT_IMPORT_PATH
          + ". The cluster's policy.allowedImportPaths limits it.")
  public String importPath;

  @JsonPropertyDescription(
      "Ray runtime environment of the application (free-form); only where the cluster's"
          + " policy.allowRuntimeEnv is true.")
  public AnyType runtimeEnv;

  @JsonPropertyDescription("HTTP route prefix; default /<namespace>/<name>.")
  @Pattern("^/([^{}]*[^/{}])?$")
  public String routePrefix;

  @JsonPropertyDescription(
      "Extra arguments for the application builder (free-form); refused where the cluster's"
          + " policy.allowExtraArgs is false.")
  public AnyType args;
}
