package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SubsetMatchTest {
  @Test
  void serverDefaultsInTheLiveObjectDoNotCount() {
    var desired = Map.of("workerGroupSpecs", List.of(Map.of("groupName", "a", "replicas", 2)));
    var live =
        Map.of(
            "workerGroupSpecs",
            List.of(Map.of("groupName", "a", "replicas", 2L, "numOfHosts", 1)),
            "suspend",
            false);
    assertThat(SubsetMatch.contains(live, desired)).isTrue();
  }

  @Test
  void aChangedValueAMissingKeyOrADifferentListLengthDoNotMatch() {
    var desired = Map.of("workerGroupSpecs", List.of(Map.of("groupName", "a", "replicas", 2)));
    assertThat(
            SubsetMatch.contains(
                Map.of("workerGroupSpecs", List.of(Map.of("groupName", "a", "replicas", 3))),
                desired))
        .isFalse();
    assertThat(
            SubsetMatch.contains(
                Map.of("workerGroupSpecs", List.of(Map.of("groupName", "a"))), desired))
        .isFalse();
    assertThat(SubsetMatch.contains(Map.of("workerGroupSpecs", List.of()), desired)).isFalse();
    assertThat(SubsetMatch.contains(null, desired)).isFalse();
  }
}
