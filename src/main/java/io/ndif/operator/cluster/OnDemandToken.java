package io.ndif.operator.cluster;

import io.ndif.operator.api.NdifCluster;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * The token the operator shows a gateway to read its demand and report placements: an HMAC of the
 * cluster's UID keyed by the cluster's Ray token, so that only who holds the Ray token can make it,
 * and a restarted operator makes the same one. A cluster without a Ray token (auth off, where
 * anyone who reaches Ray may do anything) keys it by the UID alone.
 */
final class OnDemandToken {
  private OnDemandToken() {}

  static String of(NdifCluster cluster, String rayToken) {
    String uid = cluster.getMetadata().getUid() == null ? "" : cluster.getMetadata().getUid();
    String key = rayToken == null || rayToken.isBlank() ? "ndif-on-demand:" + uid : rayToken;
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      return HexFormat.of()
          .formatHex(mac.doFinal(("ndif-on-demand:" + uid).getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException(e);
    }
  }
}
