package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.ndif.operator.api.NdifCluster;
import io.ndif.operator.api.NdifClusterSpec;
import io.ndif.operator.observability.Conditions;
import io.ndif.operator.ray.KubeRay;
import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * Ray's token authentication of a managed cluster, and where the operator finds the token that its
 * dashboard wants.
 *
 * <p>KubeRay puts the token into a Ray container's environment when it creates the pod; it does not
 * replace running pods when {@code authOptions} changes, and a worker whose authentication differs
 * from its head's cannot join it (a container restart keeps the pod's environment). So the live
 * pods decide: a cluster with no Ray pod gets what its spec asks, one whose pods all started with
 * the token keeps it, any other keeps it off; a change of spec.rayAuth takes effect when the pods
 * are all replaced.
 */
public final class RayAuth {
  public static final String MODE_ENV = "RAY_AUTH_MODE";

  /** The key of KubeRay's token Secret, named like the RayCluster. */
  public static final String TOKEN_KEY = "auth_token";

  public static final String CONDITION = "RayTokenAuth";

  private RayAuth() {}

  /** What the cluster's Ray pods are told: token authentication on, or explicitly off. */
  public enum Effective {
    ON,
    OFF
  }

  public static Effective effective(NdifCluster cluster, Collection<Pod> pods) {
    if (cluster.getSpec().usesExternalCluster()) {
      return Effective.OFF;
    }
    List<Pod> rayPods =
        pods.stream()
            .filter(
                p ->
                    p.getMetadata().getLabels() != null
                        && p.getMetadata().getLabels().containsKey(KubeRay.LABEL_NODE_TYPE))
            .toList();
    if (rayPods.isEmpty()) {
      return wanted(cluster);
    }
    return rayPods.stream().allMatch(RayAuth::startedWithToken) ? Effective.ON : Effective.OFF;
  }

  public static Effective wanted(NdifCluster cluster) {
    return cluster.getSpec().rayAuthOrDefault() == NdifClusterSpec.RayAuthMode.Token
        ? Effective.ON
        : Effective.OFF;
  }

  /** The condition {@value #CONDITION} of a managed cluster. */
  public static void condition(
      NdifCluster cluster,
      Effective effective,
      io.ndif.operator.observability.Conditions conditions) {
    if (cluster.getSpec().usesExternalCluster()) {
      var secret = cluster.getSpec().external.authTokenSecretRef;
      conditions.set(
          CONDITION,
          Conditions.UNKNOWN,
          "Adopted",
          secret == null
              ? "an adopted cluster's authentication is its own; no token is sent to its dashboard"
              : "the token in Secret "
                  + secret.getName()
                  + " ("
                  + secret.getKey()
                  + ") is sent to the adopted cluster's dashboard");
      return;
    }
    boolean on = effective == Effective.ON;
    if (effective != wanted(cluster)) {
      conditions.set(
          CONDITION,
          on,
          "WaitingForNewPods",
          "spec.rayAuth is "
              + cluster.getSpec().rayAuthOrDefault()
              + " but the cluster's Ray pods started with token authentication "
              + (on ? "on" : "off")
              + "; it stays so until they are all replaced (delete the RayCluster's pods)");
    } else if (on) {
      conditions.set(
          CONDITION,
          true,
          "Token",
          "every call into Ray needs the cluster's token (Secret "
              + cluster.getMetadata().getName()
              + ", key "
              + TOKEN_KEY
              + ")");
    } else {
      conditions.set(
          CONDITION,
          false,
          "Disabled",
          "spec.rayAuth is Disabled: whoever reaches the Ray head's ports controls the cluster");
    }
  }

  private static boolean startedWithToken(Pod pod) {
    for (Container container : pod.getSpec().getContainers()) {
      for (EnvVar env : container.getEnv() == null ? List.<EnvVar>of() : container.getEnv()) {
        if (MODE_ENV.equals(env.getName()) && "token".equals(env.getValue())) {
          return true;
        }
      }
    }
    return false;
  }

  /**
   * The Secret key holding the token the dashboard wants: an adopted cluster's named one, a managed
   * cluster's KubeRay Secret while token authentication is on; null when no token is sent.
   */
  public static SecretKeySelector tokenSecret(NdifCluster cluster, Effective effective) {
    if (cluster.getSpec().usesExternalCluster()) {
      return cluster.getSpec().external.authTokenSecretRef;
    }
    if (effective != Effective.ON) {
      return null;
    }
    // KubeRay's Secret is named like the RayCluster, which is named like the NdifCluster.
    return new SecretKeySelector(TOKEN_KEY, cluster.getMetadata().getName(), false);
  }

  /** The RayCluster's {@code authOptions}. */
  public static Map<String, Object> authOptions(Effective effective) {
    return Map.of("mode", effective == Effective.ON ? "token" : "disabled");
  }
}
