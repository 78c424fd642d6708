package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Size;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class GatewayAuthSpec {
  /** Where the key Secret is mounted in the Ray pods the operator creates. */
  public static final String MOUNT_PATH = "/etc/ndif/api-keys";

  public static final String DEFAULT_SECRET_KEY = "keys.yaml";

  @JsonPropertyDescription(
      "ApiKeys (default): every request needs an ndif-api-key header holding a known key; None:"
          + " anyone who reaches the gateway runs code on the cluster's GPUs (flagged by a Warning"
          + " condition).")
  @Default("ApiKeys")
  public Mode mode;

  @JsonPropertyDescription(
      "Secret in this namespace holding the keys (YAML: keys: [{sha256, name, tags}], each key's"
          + " SHA-256 in hex); mounted into"
          + " the Ray pods the operator creates, never read by the operator. Default:"
          + " <cluster>-api-keys.")
  @Pattern(PoolSpec.DNS_SUBDOMAIN)
  @Size(max = 253)
  public String secretName;

  @JsonPropertyDescription("Key of the Secret that holds the key file. Default: keys.yaml.")
  @Pattern("^[-._a-zA-Z0-9]+$")
  @Size(max = 253)
  public String secretKey;

  @JsonPropertyDescription(
      "Path of the key file on the Ray nodes of an adopted cluster (spec.external), where the"
          + " operator mounts nothing.")
  @Pattern("^/.*")
  @Size(max = 1024)
  public String keysFile;

  public enum Mode {
    ApiKeys,
    None
  }

  public boolean required() {
    return mode != Mode.None;
  }

  public String secretName(String cluster) {
    return secretName != null ? secretName : cluster + "-api-keys";
  }

  public String secretKey() {
    return secretKey != null ? secretKey : DEFAULT_SECRET_KEY;
  }

  /** Where the gateway reads the keys in the Ray pods the operator mounts the Secret into. */
  public String mountedKeysFile() {
    return MOUNT_PATH + "/" + secretKey();
  }
}
