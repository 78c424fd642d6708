package io.ndif.operator;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The operator's configuration, from flags ({@code --watch-namespaces=a,b}) over environment
 * variables ({@code WATCH_NAMESPACES}).
 *
 * @param watchNamespaces namespaces to watch; empty means every namespace
 * @param reconcileThreads concurrent reconciles
 */
public record OperatorSettings(Set<String> watchNamespaces, int reconcileThreads) {

  public static OperatorSettings from(String[] args, Map<String, String> env) {
    String namespaces = value(args, env, "watch-namespaces", "WATCH_NAMESPACES", "");
    String threads = value(args, env, "reconcile-threads", "RECONCILE_THREADS", "10");
    int reconcileThreads;
    try {
      reconcileThreads = Integer.parseInt(threads.trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "reconcile-threads must be a whole number, got " + threads);
    }
    if (reconcileThreads < 1) {
      throw new IllegalArgumentException("reconcile-threads must be at least 1, got " + threads);
    }
    return new OperatorSettings(
        Arrays.stream(namespaces.split(","))
            .map(String::trim)
            .filter(s -> !s.isEmpty())
            .collect(Collectors.toUnmodifiableSet()),
        reconcileThreads);
  }

  private static String value(
      String[] args, Map<String, String> env, String flag, String variable, String fallback) {
    String prefix = "--" + flag + "=";
    for (String arg : args) {
      if (arg.startsWith(prefix)) {
        return arg.substring(prefix.length());
      }
    }
    return env.getOrDefault(variable, fallback);
  }
}
