package io.ndif.operator.deployment;

import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.ServePolicySpec;
import io.ndif.operator.api.ServeSpec;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Which rules of its cluster's policy a Shared deployment breaks, each as a sentence. */
public final class ServePolicy {
  public static final String DENIED = "PolicyDenied";

  private ServePolicy() {}

  public static List<String> violations(ServePolicySpec policy, NdifDeploymentSpec spec) {
    List<String> violations = new ArrayList<>();
    ServeSpec serve = spec.serve;
    String importPath =
        serve == null || serve.importPath == null
            ? ServeSpec.DEFAULT_IMPORT_PATH
            : serve.importPath;
    List<String> allowed = policy.allowedImportPathsOrDefault();
    if (allowed.stream().noneMatch(p -> matches(p, importPath))) {
      violations.add(
          "serve.importPath "
              + importPath
              + " is not in the cluster's policy.allowedImportPaths "
              + allowed);
    }
    if (!Boolean.TRUE.equals(policy.allowRuntimeEnv)
        && hasValue(serve == null ? null : serve.runtimeEnv)) {
      violations.add(
          "serve.runtimeEnv is set and the cluster's policy.allowRuntimeEnv is not true");
    }
    if (Boolean.FALSE.equals(policy.allowExtraArgs)
        && hasValue(serve == null ? null : serve.args)) {
      violations.add("serve.args is set and the cluster's policy.allowExtraArgs is false");
    }
    if (Boolean.FALSE.equals(policy.allowTrustRemoteCode)
        && spec.model != null
        && Boolean.TRUE.equals(spec.model.trustRemoteCode)) {
      violations.add(
          "model.trustRemoteCode is true and the cluster's policy.allowTrustRemoteCode is false");
    }
    return violations;
  }

  /**
   * An exact {@code module:attribute}; {@code package.*}, the package's own module and every module
   * below it; any other prefix ending in {@code *}, a plain prefix.
   */
  static boolean matches(String pattern, String importPath) {
    if (pattern.endsWith(".*")) {
      String base = pattern.substring(0, pattern.length() - 2);
      String module =
          importPath.contains(":") ? importPath.substring(0, importPath.indexOf(':')) : importPath;
      return module.equals(base) || module.startsWith(base + ".");
    }
    return pattern.endsWith("*")
        ? importPath.startsWith(pattern.substring(0, pattern.length() - 1))
        : pattern.equals(importPath);
  }

  private static boolean hasValue(io.fabric8.kubernetes.api.model.AnyType any) {
    if (any == null || any.getValue() == null) {
      return false;
    }
    return !(any.getValue() instanceof Map<?, ?> map && map.isEmpty());
  }
}
