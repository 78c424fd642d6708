package io.ndif.operator.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Default;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.fabric8.generator.annotation.ValidationRule;

@JsonInclude(JsonInclude.Include.NON_NULL)
public class ModelSpec {
  public static final String DEFAULT_WRAPPER = "nnsight.modeling.language.LanguageModel";
  public static final String TRANSFORMERS_MODEL = "nnsight.modeling.transformers.TransformersModel";

  @JsonPropertyDescription("Hugging Face repository id, e.g. meta-llama/Llama-3.1-8B.")
  @Required
  @Size(min = 1, max = 256)
  public String repoId;

  @JsonPropertyDescription("Repository revision (branch, tag or commit).")
  @Size(max = 128)
  public String revision;

  @JsonPropertyDescription("nnsight wrapper class.")
  @Default(DEFAULT_WRAPPER)
  @Size(max = 256)
  public String wrapper;

  @JsonPropertyDescription(
      "transformers task of a TransformersModel wrapper, as in its model key (aliases such as"
          + " sentiment-analysis resolve as transformers does); LanguageModel pins"
          + " text-generation.")
  @Pattern("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
  @Size(max = 64)
  public String task;

  @JsonPropertyDescription("Weights dtype: bfloat16 (default), float16 or float32.")
  @Default("bfloat16")
  public Dtype dtype;

  @JsonPropertyDescription("Parameter count, used to estimate the model's GPU memory.")
  @Min(1)
  public Long parameters;

  @JsonPropertyDescription("GPU memory of one replica; overrides the estimate from parameters.")
  @ValidationRule(
      value = Quantities.POSITIVE_RULE,
      message = "sizeBytes must be a positive quantity such as 16Gi")
  @Size(max = 32)
  public String sizeBytes;

  @JsonPropertyDescription("Allow the model repository's own code to run.")
  @Default("false")
  public Boolean trustRemoteCode;

  public enum Dtype {
    @JsonProperty("bfloat16")
    BFLOAT16(2),
    @JsonProperty("float16")
    FLOAT16(2),
    @JsonProperty("float32")
    FLOAT32(4);

    public final int bytesPerParameter;

    Dtype(int bytesPerParameter) {
      this.bytesPerParameter = bytesPerParameter;
    }
  }
}
