package io.ndif.operator.warm;

import static org.assertj.core.api.Assertions.assertThat;

import io.ndif.operator.api.NdifClusterStatus.WarmCopy;
import java.util.List;
import org.junit.jupiter.api.Test;

class WarmCopiesTest {
  static final String KEY = "nnsight.modeling.language.LanguageModel:{\"repo_id\": \"org/a\"}";
  static final String OTHER = "nnsight.modeling.language.LanguageModel:{\"repo_id\": \"org/b\"}";

  static final String REPORT =
      """
      {"waiting": {}, "used": {}, "active": {},
       "warm": [
         {"key": "%s", "node_id": "n2", "node": "pool-b-worker-2", "bytes": 2048,
          "priority": 0, "last_used": 1796000000.5, "kept_at": 1796000000.5, "pool": "b",
          "deployment": "ns/b"},
         {"key": "%s", "node_id": "n1", "node": "pool-a-worker-1", "bytes": 1024,
          "priority": -100, "last_used": 1796000100.0, "kept_at": 1796000000.9, "pool": "a",
          "deployment": "ns/od-a"},
         {"node": "no key: left out"}
       ]}
      """
          .formatted(OTHER.replace("\"", "\\\""), KEY.replace("\"", "\\\""));

  @Test
  void theGatewaysReportBecomesStableStatusWithoutItsLastUse() throws Exception {
    List<WarmCopy> copies = WarmCopies.parse(REPORT);
    assertThat(copies).extracting(c -> c.modelKey).containsExactly(KEY, OTHER);
    WarmCopy first = copies.get(0);
    assertThat(first.node).isEqualTo("pool-a-worker-1");
    assertThat(first.pool).isEqualTo("a");
    assertThat(first.deployment).isEqualTo("ns/od-a");
    assertThat(first.bytes).isEqualTo(1024L);
    // whole seconds, so that the same copy writes the same status
    assertThat(first.keptAt).isEqualTo("2026-11-30T00:53:20Z");
    // the last use moves with every load; it is not part of status
    assertThat(WarmCopies.parse(REPORT.replace("1796000100.0", "1796000200.0")))
        .usingRecursiveFieldByFieldElementComparator()
        .isEqualTo(copies);
  }

  @Test
  void aReportWithoutWarmCopiesIsEmpty() throws Exception {
    assertThat(WarmCopies.parse("{\"waiting\": {}}")).isEmpty();
  }

  @Test
  void levelsAndPreferredPools() throws Exception {
    List<WarmCopy> copies = WarmCopies.parse(REPORT);
    assertThat(WarmCopies.level(true, copies, KEY)).isEqualTo("HOT");
    assertThat(WarmCopies.level(false, copies, KEY)).isEqualTo("WARM");
    assertThat(WarmCopies.level(false, copies, "x:{}")).isEqualTo("COLD");
    assertThat(WarmCopies.level(false, null, KEY)).isEqualTo("COLD");
    assertThat(WarmCopies.poolsOf(copies, KEY)).containsExactly("a");
    assertThat(WarmCopies.poolsOf(copies, "x:{}")).isEmpty();
    assertThat(WarmCopies.poolsOf(null, KEY)).isEmpty();
  }
}
