package io.ndif.operator.deployment;

import io.ndif.operator.api.ModelSpec;
import java.util.Map;

/**
 * NDIF's model key, byte for byte what nnsight 0.8.1's {@code to_model_key()} writes for the
 * deployment's wrapper (the Hub's canonical spelling of the repo id aside): {@code
 * nnsight.modeling.transformers.TransformersModel:{"repo_id": ..., "revision": ..., "task": ...}}.
 * A wrapper that is not one of nnsight's Hugging Face classes keeps the older {@code
 * <wrapper>:{"repo_id": ..., "revision": ...}} form.
 */
public final class ModelKeys {
  public static final String DEFAULT_TASK = "text-generation";

  /** transformers' TASK_ALIASES, which TransformersModel applies to the task in its key. */
  private static final Map<String, String> TASK_ALIASES =
      Map.of(
          "sentiment-analysis", "text-classification",
          "ner", "token-classification",
          "vqa", "visual-question-answering",
          "text-to-speech", "text-to-audio");

  private ModelKeys() {}

  public static String of(ModelSpec model) {
    String wrapper = model.wrapper == null ? ModelSpec.DEFAULT_WRAPPER : model.wrapper;
    StringBuilder key = new StringBuilder();
    if (wrapper.equals(ModelSpec.DEFAULT_WRAPPER) || wrapper.equals(ModelSpec.TRANSFORMERS_MODEL)) {
      // LanguageModel is a deprecated alias keyed as TransformersModel, with the task pinned.
      String task =
          wrapper.equals(ModelSpec.DEFAULT_WRAPPER) || model.task == null
              ? DEFAULT_TASK
              : model.task;
      key.append(ModelSpec.TRANSFORMERS_MODEL).append(":{\"repo_id\": ");
      key.append(json(model.repoId)).append(", \"revision\": ");
      key.append(model.revision == null ? "null" : json(model.revision));
      if (Boolean.TRUE.equals(model.trustRemoteCode)) {
        key.append(", \"trust_remote_code\": true");
      }
      key.append(", \"task\": ").append(json(TASK_ALIASES.getOrDefault(task, task))).append('}');
      return key.toString();
    }
    key.append(wrapper).append(":{\"repo_id\": ").append(json(model.repoId));
    if (model.revision != null) {
      key.append(", \"revision\": ").append(json(model.revision));
    }
    return key.append('}').toString();
  }

  /** A JSON string as Python's json.dumps writes it (ensure_ascii: non-ASCII as \\uXXXX). */
  static String json(String value) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : value.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\b' -> out.append("\\b");
        case '\f' -> out.append("\\f");
        default -> {
          if (c < 0x20 || c > 0x7e) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
