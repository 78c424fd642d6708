package io.ndif.operator.deployment;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.ModelSpec;

/** NDIF's model key: {@code <wrapper>:{"repo_id": ..., "revision": ...}}. */
public final class ModelKeys {
  private ModelKeys() {}

  public static String of(ModelSpec model) {
    ObjectNode kwargs = Serialization.jsonMapper().createObjectNode();
    kwargs.put("repo_id", model.repoId);
    if (model.revision != null) {
      kwargs.put("revision", model.revision);
    }
    String wrapper = model.wrapper == null ? ModelSpec.DEFAULT_WRAPPER : model.wrapper;
    // NDIF writes the kwargs with Python's json.dumps separators.
    String json = kwargs.toString().replace("\":\"", "\": \"").replace("\",\"", "\", \"");
    return wrapper + ":" + json;
  }
}
