package io.ndif.operator.placement;

import java.util.OptionalLong;

/** NDIF's size estimate: parameters x bytes per element x (1 + padding factor) + padding bias. */
public final class ModelSizes {
  public static final double DEFAULT_PADDING_FACTOR = 0.15;
  public static final long DEFAULT_PADDING_BIAS = 500L * 1024 * 1024;

  private ModelSizes() {}

  /**
   * @param sizeBytes an explicit size, which wins, or null
   * @param parameters the parameter count, or null
   * @return the padded size in bytes, or empty when neither is known
   */
  public static OptionalLong estimate(
      Long sizeBytes,
      Long parameters,
      int bytesPerParameter,
      Double paddingFactor,
      Long paddingBias) {
    if (sizeBytes != null) {
      return OptionalLong.of(sizeBytes);
    }
    if (parameters == null) {
      return OptionalLong.empty();
    }
    double base = (double) parameters * bytesPerParameter;
    double factor = paddingFactor == null ? DEFAULT_PADDING_FACTOR : paddingFactor;
    long bias = paddingBias == null ? DEFAULT_PADDING_BIAS : paddingBias;
    return OptionalLong.of((long) Math.ceil(base + base * factor + bias));
  }

  /**
   * GPUs one replica needs in a pool: a fraction (rounded up to 0.01) when it fits one GPU, else
   * whole GPUs.
   */
  public static double gpusPerReplica(long sizeBytes, long gpuMemoryBytes) {
    if (sizeBytes <= gpuMemoryBytes) {
      return Math.max(1, (long) Math.ceil(sizeBytes * 100.0 / gpuMemoryBytes)) / 100.0;
    }
    return Math.ceil((double) sizeBytes / gpuMemoryBytes);
  }
}
