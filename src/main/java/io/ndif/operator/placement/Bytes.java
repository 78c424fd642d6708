package io.ndif.operator.placement;

/** Formats byte counts the way Kubernetes quantities read: 80Gi, 500Mi. */
final class Bytes {
  private static final String[] UNITS = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};

  private Bytes() {}

  static String format(long bytes) {
    int unit = 0;
    double value = bytes;
    while (value >= 1024 && unit < UNITS.length - 1) {
      value /= 1024;
      unit++;
    }
    return (value == Math.rint(value) ? Long.toString((long) value) : String.format("%.1f", value))
        + UNITS[unit];
  }
}
