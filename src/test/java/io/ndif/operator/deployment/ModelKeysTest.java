package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.ModelSpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ModelKeysTest {
  /** The table serve/tests/test_keys.py checks against nnsight 0.8.1's own to_model_key(). */
  static final Path TABLE = Path.of("serve/tests/fixtures/model_keys.json");

  static Stream<JsonNode> cases() throws IOException {
    JsonNode table = Serialization.jsonMapper().readTree(Files.readString(TABLE));
    return StreamSupport.stream(table.path("cases").spliterator(), false);
  }

  @ParameterizedTest
  @MethodSource("cases")
  void writesTheKeyNnsightWrites(JsonNode row) {
    ModelSpec spec = Serialization.jsonMapper().convertValue(row.path("spec"), ModelSpec.class);
    assertThat(ModelKeys.of(spec)).isEqualTo(row.path("key").asText());
  }

  @Test
  void aWrapperOutsideNnsightsHuggingFaceClassesKeepsTheOlderForm() {
    var model = new ModelSpec();
    model.repoId = "x/y";
    model.wrapper = "nnsight.modeling.vllm.VLLM";
    assertThat(ModelKeys.of(model)).isEqualTo("nnsight.modeling.vllm.VLLM:{\"repo_id\": \"x/y\"}");
    model.revision = "v2";
    assertThat(ModelKeys.of(model))
        .isEqualTo("nnsight.modeling.vllm.VLLM:{\"repo_id\": \"x/y\", \"revision\": \"v2\"}");
  }

  @Test
  void stringsAreEscapedAsPythonsJsonDumpsDoes() {
    assertThat(ModelKeys.json("a\"b\\c/d\u00e9")).isEqualTo("\"a\\\"b\\\\c/d\\u00e9\"");
  }
}
