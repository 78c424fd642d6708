package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import io.ndif.operator.api.ModelSpec;
import org.junit.jupiter.api.Test;

class ModelKeysTest {
  @Test
  void matchesNdifsKeyFormat() {
    var model = new ModelSpec();
    model.repoId = "openai-community/gpt2";
    model.revision = "main";
    assertThat(ModelKeys.of(model))
        .isEqualTo(
            "nnsight.modeling.language.LanguageModel:{\"repo_id\": \"openai-community/gpt2\", \"revision\": \"main\"}");
  }

  @Test
  void leavesOutAMissingRevisionAndKeepsACustomWrapper() {
    var model = new ModelSpec();
    model.repoId = "x/y";
    model.wrapper = "nnsight.modeling.vllm.VLLM";
    assertThat(ModelKeys.of(model)).isEqualTo("nnsight.modeling.vllm.VLLM:{\"repo_id\": \"x/y\"}");
  }
}
