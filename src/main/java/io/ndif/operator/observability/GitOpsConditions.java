package io.ndif.operator.observability;

import io.fabric8.kubernetes.api.model.Condition;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The {@code Reconciling} and {@code Stalled} conditions of kstatus (what Flux and {@code kubectl
 * wait}-style tools read as InProgress and Failed), derived from a status's own {@code Ready},
 * {@code Progressing} and {@code Degraded}: Stalled when Degraded is True or Ready is False for a
 * reason only a change of the spec (or of the cluster's owner) can clear; Reconciling while not
 * Ready otherwise, or while Progressing; neither once Ready and settled.
 */
public final class GitOpsConditions {
  public static final String RECONCILING = "Reconciling";
  public static final String STALLED = "Stalled";

  private GitOpsConditions() {}

  public static void derive(Conditions conditions, Set<String> stalledReadyReasons) {
    List<Condition> built = conditions.build();
    Optional<Condition> ready = Conditions.find(built, "Ready");
    Optional<Condition> degraded =
        Conditions.find(built, "Degraded").filter(c -> Conditions.TRUE.equals(c.getStatus()));
    Optional<Condition> stuck =
        ready
            .filter(c -> Conditions.FALSE.equals(c.getStatus()))
            .filter(c -> stalledReadyReasons.contains(c.getReason()));
    Optional<Condition> stalled = degraded.or(() -> stuck);
    if (stalled.isPresent()) {
      conditions
          .set(STALLED, true, stalled.get().getReason(), stalled.get().getMessage())
          .set(RECONCILING, false, stalled.get().getReason(), "stalled until the spec changes");
      return;
    }
    conditions.set(STALLED, false, "NotStalled", "nothing stops progress");
    boolean isReady = ready.map(c -> Conditions.TRUE.equals(c.getStatus())).orElse(false);
    Optional<Condition> progressing =
        Conditions.find(built, "Progressing").filter(c -> Conditions.TRUE.equals(c.getStatus()));
    if (isReady && progressing.isEmpty()) {
      conditions.set(RECONCILING, false, ready.get().getReason(), ready.get().getMessage());
    } else {
      Condition why = progressing.or(() -> ready).orElse(null);
      conditions.set(
          RECONCILING,
          true,
          why == null ? "Observing" : why.getReason(),
          why == null ? "not observed yet" : why.getMessage());
    }
  }
}
