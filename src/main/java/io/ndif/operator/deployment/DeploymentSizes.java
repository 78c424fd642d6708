package io.ndif.operator.deployment;

import io.ndif.operator.api.ModelSpec;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.Quantities;
import io.ndif.operator.placement.ModelSizes;
import java.util.OptionalLong;

/** The padded GPU memory of one replica of a deployment, from its spec. */
public final class DeploymentSizes {
  private DeploymentSizes() {}

  public static OptionalLong bytes(NdifDeploymentSpec spec) {
    ModelSpec model = spec.model;
    var dtype = model.dtype == null ? ModelSpec.Dtype.BFLOAT16 : model.dtype;
    var padding = spec.resources == null ? null : spec.resources.padding;
    return ModelSizes.estimate(
        Quantities.bytes(model.sizeBytes),
        model.parameters,
        dtype.bytesPerParameter,
        padding == null ? null : padding.factor,
        padding == null ? null : Quantities.bytes(padding.bias));
  }
}
