package io.ndif.operator.api;

import java.time.Duration;
import java.util.regex.Matcher;

/** Durations as Kubernetes writes them (Go's form without fractions): 8h, 90m, 1h30m, 45s. */
public final class Durations {
  public static final String PATTERN = "^([0-9]{1,5}h)?([0-9]{1,6}m)?([0-9]{1,7}s)?$";
  private static final java.util.regex.Pattern PARSED =
      java.util.regex.Pattern.compile("^(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$");

  private Durations() {}

  /** The duration written, or an exception naming it. */
  public static Duration parse(String text) {
    Matcher m = text == null ? null : PARSED.matcher(text.trim());
    if (m == null || text.isBlank() || !m.matches()) {
      throw new IllegalArgumentException(
          "'" + text + "' is not a duration such as 8h, 90m or 1h30m");
    }
    Duration d = Duration.ofHours(part(m, 1)).plusMinutes(part(m, 2)).plusSeconds(part(m, 3));
    if (d.isZero()) {
      throw new IllegalArgumentException("duration '" + text + "' is zero");
    }
    return d;
  }

  private static long part(Matcher m, int group) {
    return m.group(group) == null ? 0 : Long.parseLong(m.group(group));
  }
}
