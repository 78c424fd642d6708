package io.ndif.operator.cluster;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Spaces a cluster's status writes by a minimum interval, so a burst of deployment changes is
 * planned and written once instead of once per change. It only delays: the reconcile that waits is
 * scheduled again when the interval is over, and a restart (which forgets the times) writes at
 * once, so no decision depends on it.
 */
final class StatusPacing {
  static final Duration MINIMUM_INTERVAL = Duration.ofSeconds(1);
  private final Map<String, Instant> lastWrite = new ConcurrentHashMap<>();

  /** How long to wait before this cluster may be planned and written again; zero for now. */
  Duration waitBefore(String cluster, Instant now) {
    var last = lastWrite.get(cluster);
    if (last == null) {
      return Duration.ZERO;
    }
    var left = Duration.between(now, last.plus(MINIMUM_INTERVAL));
    return left.isNegative() ? Duration.ZERO : left;
  }

  void wrote(String cluster, Instant at) {
    lastWrite.put(cluster, at);
  }
}
