package io.ndif.operator.testing;

import java.util.function.Supplier;

/**
 * Something a test JVM starts at most once (a local cluster, a local Ray head). A start that failed
 * is not tried again by the next test class: the start script would clean its state directory, and
 * with it anything a concurrent attempt left running.
 */
final class StartedOnce<T> {
  private final Supplier<T> start;
  private T value;
  private IllegalStateException failed;

  StartedOnce(Supplier<T> start) {
    this.start = start;
  }

  synchronized T get() {
    if (failed != null) {
      throw failed;
    }
    if (value == null) {
      try {
        value = start.get();
      } catch (IllegalStateException e) {
        failed = e;
        throw e;
      }
    }
    return value;
  }
}
