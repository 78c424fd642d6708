package io.ndif.operator.warm;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifClusterStatus.WarmCopy;
import java.io.IOException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/** The warm copies a gateway reports of its cluster's nodes, and what they mean for placement. */
public final class WarmCopies {
  private WarmCopies() {}

  /** The {@code warm} list of the gateway's operator report, in a stable order. */
  public static List<WarmCopy> parse(String json) throws IOException {
    JsonNode root = Serialization.jsonMapper().readTree(json);
    List<WarmCopy> copies = new ArrayList<>();
    for (JsonNode entry : root.path("warm")) {
      if (!entry.path("key").isTextual()) {
        continue;
      }
      var copy = new WarmCopy();
      copy.modelKey = entry.path("key").asText();
      copy.deployment = text(entry, "deployment");
      copy.node = text(entry, "node");
      copy.pool = text(entry, "pool");
      copy.bytes = entry.path("bytes").isNumber() ? entry.path("bytes").asLong() : null;
      if (entry.path("kept_at").isNumber()) {
        copy.keptAt =
            Instant.ofEpochMilli((long) (entry.path("kept_at").asDouble() * 1000))
                .truncatedTo(ChronoUnit.SECONDS)
                .toString();
      }
      copies.add(copy);
    }
    copies.sort(
        Comparator.comparing((WarmCopy c) -> c.modelKey)
            .thenComparing(c -> c.node == null ? "" : c.node));
    return copies;
  }

  /** The pools that keep a copy of the deployment's model, which placement prefers. */
  public static Set<String> poolsOf(List<WarmCopy> copies, String modelKey) {
    Set<String> pools = new TreeSet<>();
    if (copies != null) {
      copies.stream()
          .filter(c -> modelKey.equals(c.modelKey) && c.pool != null)
          .forEach(c -> pools.add(c.pool));
    }
    return pools;
  }

  /** HOT when a replica runs, WARM when a node keeps its weights, otherwise COLD. */
  public static String level(boolean running, List<WarmCopy> copies, String modelKey) {
    if (running) {
      return "HOT";
    }
    boolean kept = copies != null && copies.stream().anyMatch(c -> modelKey.equals(c.modelKey));
    return kept ? "WARM" : "COLD";
  }

  private static String text(JsonNode entry, String field) {
    return entry.path(field).isTextual() ? entry.path(field).asText() : null;
  }
}
