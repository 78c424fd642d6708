package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.kubernetes.api.model.AnyType;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ServeSpec {
  @JsonPropertyDescription("Python import path of the Serve application builder.")
  public String importPath;

  @JsonPropertyDescription("Ray runtime environment of the application (free-form).")
  public AnyType runtimeEnv;

  @JsonPropertyDescription("HTTP route prefix; default /<namespace>/<name>.")
  @Pattern("^/([^{}]*[^/{}])?$")
  public String routePrefix;

  @JsonPropertyDescription("Extra arguments for the application builder (free-form).")
  public AnyType args;
}
