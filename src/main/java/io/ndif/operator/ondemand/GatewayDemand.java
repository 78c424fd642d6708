package io.ndif.operator.ondemand;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a gateway reports of on-demand models, by repository id: jobs waiting for a model nothing
 * serves, when each model was last used, and the jobs each has queued or running now.
 */
public record GatewayDemand(
    Map<String, Waiting> waiting, Map<String, Instant> used, Map<String, Integer> active) {
  public static final GatewayDemand NONE = new GatewayDemand(Map.of(), Map.of(), Map.of());

  public record Waiting(int jobs, Instant since) {}

  /** The gateway's JSON answer ({waiting: {key: {jobs, since}}, used: {key: t}, active}). */
  public static GatewayDemand parse(String json) throws IOException {
    JsonNode root = Serialization.jsonMapper().readTree(json);
    Map<String, Waiting> waiting = new LinkedHashMap<>();
    root.path("waiting")
        .fields()
        .forEachRemaining(
            e -> {
              String repo = ModelKeyRepo.of(e.getKey());
              if (repo != null) {
                var old = waiting.get(repo);
                int jobs = e.getValue().path("jobs").asInt(0) + (old == null ? 0 : old.jobs());
                Instant since = epoch(e.getValue().path("since").asDouble(0));
                waiting.put(
                    repo,
                    new Waiting(
                        jobs, old == null || since.isBefore(old.since()) ? since : old.since()));
              }
            });
    Map<String, Instant> used = new LinkedHashMap<>();
    root.path("used")
        .fields()
        .forEachRemaining(
            e -> {
              String repo = ModelKeyRepo.of(e.getKey());
              if (repo != null) {
                used.merge(repo, epoch(e.getValue().asDouble(0)), (a, b) -> a.isAfter(b) ? a : b);
              }
            });
    Map<String, Integer> active = new LinkedHashMap<>();
    root.path("active")
        .fields()
        .forEachRemaining(
            e -> {
              String repo = ModelKeyRepo.of(e.getKey());
              if (repo != null) {
                active.merge(repo, e.getValue().asInt(0), Integer::sum);
              }
            });
    return new GatewayDemand(waiting, used, active);
  }

  private static Instant epoch(double seconds) {
    return Instant.ofEpochMilli((long) (seconds * 1000));
  }

  /** The repository id in an nnsight model key ({@code <wrapper>:{"repo_id": ...}}). */
  static final class ModelKeyRepo {
    private ModelKeyRepo() {}

    static String of(String key) {
      int colon = key.indexOf(':');
      if (colon < 0) {
        return null;
      }
      try {
        JsonNode data = Serialization.jsonMapper().readTree(key.substring(colon + 1));
        JsonNode repo = data.get("repo_id");
        return repo == null || !repo.isTextual() ? null : repo.asText();
      } catch (IOException notJson) {
        return null;
      }
    }
  }
}
