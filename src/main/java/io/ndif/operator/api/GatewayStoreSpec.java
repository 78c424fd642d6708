package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.kubernetes.api.model.SecretKeySelector;

/** Where the gateway keeps jobs so that no replica's end loses one: a Redis (or Valkey) server. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class GatewayStoreSpec {
  public static final int DEFAULT_JOB_TTL_SECONDS = 3600;
  public static final int DEFAULT_LEASE_SECONDS = 15;
  public static final String MOUNT_PATH = "/etc/ndif/store";
  public static final String PASSWORD_FILE = "password";

  @JsonPropertyDescription(
      "The Redis server, host:port, as the gateway (on the Ray head) reaches it, e.g."
          + " redis.ndif.svc:6379.")
  @Required
  @Pattern("^[A-Za-z0-9.\\-\\[\\]:]+:[0-9]{1,5}$")
  @Size(max = 253)
  public String address;

  @JsonPropertyDescription("Redis database number. Default 0.")
  @Default("0")
  @Min(0)
  @Max(15)
  public Integer database;

  @JsonPropertyDescription("Connect with TLS (rediss://).")
  public Boolean tls;

  @JsonPropertyDescription(
      "The Secret key holding the password; mounted only on the Ray head, where the gateway runs.")
  public SecretKeySelector passwordSecretRef;

  @JsonPropertyDescription(
      "How long job statuses and open sessions are kept, in seconds. Default 3600. Results are"
          + " kept for gateway.limits.resultTtlSeconds.")
  @Default("3600")
  @Min(60)
  @Max(604800)
  public Integer jobTtlSeconds;

  @JsonPropertyDescription(
      "A job whose gateway replica stopped renewing its lease this long ago is run again by"
          + " another replica, in seconds. Default 15.")
  @Default("15")
  @Min(2)
  @Max(600)
  public Integer leaseSeconds;

  public String url() {
    return (Boolean.TRUE.equals(tls) ? "rediss://" : "redis://")
        + address
        + "/"
        + (database == null ? 0 : database);
  }
}
