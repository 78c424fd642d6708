package io.ndif.operator.ray;

import io.fabric8.kubernetes.client.KubernetesClientException;
import io.javaoperatorsdk.operator.processing.dependent.workflow.WorkflowResult;
import java.util.Optional;

/** Makes the error of applying a KubeRay object readable in a condition message. */
public final class ApplyErrors {
  private ApplyErrors() {}

  /**
   * The first dependent's error in a workflow result, described, or null when there is none.
   *
   * @param kind the kind of the KubeRay object (its dependent is typed generically); a typed
   *     dependent is named by its own kind
   */
  public static String of(Optional<? extends WorkflowResult> result, String kind) {
    return result
        .flatMap(r -> r.getErroredDependents().entrySet().stream().findFirst())
        .map(
            e -> {
              Class<?> type = e.getKey().resourceType();
              return describe(
                  e.getValue(),
                  type == io.fabric8.kubernetes.api.model.GenericKubernetesResource.class
                      ? kind
                      : type.getSimpleName());
            })
        .orElse(null);
  }

  static String describe(Exception error, String kind) {
    String prefix = "the " + kind + " could not be applied: ";
    Throwable cause = error;
    while (cause.getCause() != null && !(cause instanceof KubernetesClientException)) {
      cause = cause.getCause();
    }
    if (cause instanceof KubernetesClientException k && k.getStatus() != null) {
      var status = k.getStatus();
      if (status.getCode() != null && status.getCode() == 404) {
        return prefix
            + "KubeRay's CRDs are not installed ("
            + KubeRay.API_VERSION
            + " "
            + kind
            + " not found)";
      }
      return prefix + status.getMessage();
    }
    return prefix + cause.getMessage();
  }
}
