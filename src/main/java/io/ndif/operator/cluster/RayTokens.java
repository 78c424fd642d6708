package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretKeySelector;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The Ray tokens the operator sends to dashboards, read from exactly the Secrets that hold them
 * (KubeRay's per RayCluster, or the one an adopted cluster names) and kept in memory until a
 * dashboard refuses one, so that steady state reads nothing.
 */
public final class RayTokens {
  private final Map<String, String> cache = new ConcurrentHashMap<>();

  /** The token, or null while the Secret or its key does not exist (yet). */
  public String token(KubernetesClient client, String namespace, SecretKeySelector ref) {
    if (ref == null) {
      return null;
    }
    String id = id(namespace, ref);
    String cached = cache.get(id);
    if (cached != null) {
      return cached;
    }
    Secret secret;
    try {
      secret = client.secrets().inNamespace(namespace).withName(ref.getName()).get();
    } catch (KubernetesClientException e) {
      return null;
    }
    String token = secret == null ? null : value(secret, ref.getKey());
    if (token != null) {
      cache.put(id, token);
    }
    return token;
  }

  /** A dashboard refused the token: the next call reads the Secret again. */
  public void forget(String namespace, SecretKeySelector ref) {
    if (ref != null) {
      cache.remove(id(namespace, ref));
    }
  }

  private static String value(Secret secret, String key) {
    if (secret.getData() != null && secret.getData().get(key) != null) {
      return new String(
              Base64.getDecoder().decode(secret.getData().get(key)), StandardCharsets.UTF_8)
          .strip();
    }
    if (secret.getStringData() != null && secret.getStringData().get(key) != null) {
      return secret.getStringData().get(key).strip();
    }
    return null;
  }

  private static String id(String namespace, SecretKeySelector ref) {
    return namespace + "/" + ref.getName() + "/" + ref.getKey();
  }
}
