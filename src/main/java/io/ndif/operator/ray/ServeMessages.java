package io.ndif.operator.ray;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Ray Serve's status messages made fit for a condition. Ray says only "Failed to update the
 * deployments" at the application level; the cause is in each failed deployment's message, often a
 * whole traceback whose first line says what happened and whose last line is the exception.
 */
public final class ServeMessages {
  static final int MAX_LENGTH = 2000;
  private static final Pattern ANSI = Pattern.compile("\u001B\\[[0-9;]*m");
  private static final Set<String> FAILED = Set.of("DEPLOY_FAILED", "UNHEALTHY");

  private ServeMessages() {}

  /** The application's message followed by each failed deployment's, summarized. */
  public static String of(JsonNode application) {
    List<String> parts = new ArrayList<>();
    String own = summarize(text(application.path("message")));
    if (own != null) {
      parts.add(own);
    }
    application
        .path("deployments")
        .fields()
        .forEachRemaining(
            e -> {
              JsonNode deployment = e.getValue();
              String message = summarize(text(deployment.path("message")));
              if (message != null && FAILED.contains(text(deployment.path("status")))) {
                parts.add(e.getKey() + ": " + message);
              }
            });
    if (parts.isEmpty()) {
      return null;
    }
    String joined = String.join("; ", parts);
    return joined.length() <= MAX_LENGTH ? joined : joined.substring(0, MAX_LENGTH - 1) + "…";
  }

  /** A one-line message stays; several lines become the first and the last. */
  static String summarize(String message) {
    if (message == null) {
      return null;
    }
    List<String> lines =
        ANSI.matcher(message)
            .replaceAll("")
            .lines()
            .map(String::strip)
            .filter(l -> !l.isEmpty())
            .toList();
    if (lines.isEmpty()) {
      return null;
    }
    String first = lines.get(0);
    String last = lines.get(lines.size() - 1);
    return lines.size() == 1 ? first : first + " … " + last;
  }

  private static String text(JsonNode node) {
    return node.isMissingNode() || node.isNull() ? null : node.asText();
  }
}
