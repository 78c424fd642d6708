package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Max;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class GatewayLimitsSpec {
  public static final String DEFAULT_MAX_REQUEST_SIZE = "64Mi";
  public static final String DEFAULT_MAX_INLINE_RESULT_SIZE = "16Mi";
  public static final int DEFAULT_RESULT_TTL_SECONDS = 600;
  public static final int DEFAULT_DRAIN_GRACE_PERIOD_SECONDS = 300;
  public static final int DEFAULT_MAX_WAIT_SECONDS = 600;

  @JsonPropertyDescription(
      "Largest request body accepted (413 with a sentence above it). Default: 64Mi.")
  @ValidationRule(
      value = Quantities.POSITIVE_RULE,
      message = "maxRequestSize must be a positive quantity such as 64Mi")
  @Size(max = 32)
  public String maxRequestSize;

  @JsonPropertyDescription(
      "Largest result sent back over the websocket; larger ones (and every non-blocking result)"
          + " are downloaded once from a link that expires. Default: 16Mi.")
  @ValidationRule(
      value = "isQuantity(self) && !quantity(self).isLessThan(quantity('0'))",
      message = "maxInlineResultSize must be a quantity such as 16Mi (0: always download)")
  @Size(max = 32)
  public String maxInlineResultSize;

  @JsonPropertyDescription("How long a result download link works, in seconds. Default: 600.")
  @Default("600")
  @Min(10)
  @Max(86400)
  public Integer resultTtlSeconds;

  @JsonPropertyDescription(
      "How long a model replica that is preempted, scaled down or removed keeps running the"
          + " request it has started (it takes no new ones) before it is stopped, in seconds."
          + " Default: 300.")
  @Default("300")
  @Min(0)
  @Max(86400)
  public Integer drainGracePeriodSeconds;

  @JsonPropertyDescription(
      "How long a job whose model has no replica (it was preempted, scaled down or removed"
          + " before the job started) waits for another replica or for the model to be admitted"
          + " again before it ends with a sentence, in seconds. Default: 600.")
  @Default("600")
  @Min(0)
  @Max(86400)
  public Integer maxWaitSeconds;
}
