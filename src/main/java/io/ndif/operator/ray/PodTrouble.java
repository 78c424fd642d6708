package io.ndif.operator.ray;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Why a Ray pod cannot run, read from its conditions and container states: no node fits it, or a
 * container is stuck in a state that does not heal by waiting (a bad image, a crash loop, a missing
 * Secret). A pod that is merely starting has no trouble.
 */
public final class PodTrouble {
  public enum Kind {
    UNSCHEDULABLE,
    FAILING
  }

  /**
   * @param kind unschedulable or failing
   * @param reason Kubernetes' reason, e.g. Unschedulable or ImagePullBackOff
   * @param message what a person needs to fix it
   */
  public record Trouble(Kind kind, String reason, String message) {
    /**
     * What is wrong with the pod, to follow its name: "cannot be scheduled: …", "is failing: …".
     */
    public String describe() {
      return (kind == Kind.UNSCHEDULABLE ? "cannot be scheduled: " : "is failing: ") + message;
    }
  }

  static final int MAX_MESSAGE = 500;

  private static final Set<String> STUCK =
      Set.of(
          "ErrImagePull",
          "ImagePullBackOff",
          "ErrImageNeverPull",
          "InvalidImageName",
          "CrashLoopBackOff",
          "CreateContainerConfigError",
          "CreateContainerError",
          "RunContainerError");

  private PodTrouble() {}

  public static Optional<Trouble> of(Pod pod) {
    if (pod.getStatus() == null) {
      return Optional.empty();
    }
    var scheduled = condition(pod, "PodScheduled");
    if (scheduled.isPresent()
        && "False".equals(scheduled.get().getStatus())
        && "Unschedulable".equals(scheduled.get().getReason())) {
      return Optional.of(
          new Trouble(
              Kind.UNSCHEDULABLE,
              "Unschedulable",
              cap(Objects.requireNonNullElse(scheduled.get().getMessage(), "no node fits"))));
    }
    List<ContainerStatus> containers = new ArrayList<>();
    if (pod.getStatus().getInitContainerStatuses() != null) {
      containers.addAll(pod.getStatus().getInitContainerStatuses());
    }
    if (pod.getStatus().getContainerStatuses() != null) {
      containers.addAll(pod.getStatus().getContainerStatuses());
    }
    for (ContainerStatus container : containers) {
      var waiting = container.getState() == null ? null : container.getState().getWaiting();
      if (waiting == null || !STUCK.contains(waiting.getReason())) {
        continue;
      }
      var message =
          new StringBuilder("container " + container.getName() + ": " + waiting.getReason());
      if (waiting.getMessage() != null && !waiting.getMessage().isBlank()) {
        message.append(": ").append(waiting.getMessage().strip());
      }
      var last = container.getLastState() == null ? null : container.getLastState().getTerminated();
      if (last != null) {
        message.append(" (last exit code ").append(last.getExitCode());
        if (last.getReason() != null) {
          message.append(", ").append(last.getReason());
        }
        message.append(')');
      }
      return Optional.of(new Trouble(Kind.FAILING, waiting.getReason(), cap(message.toString())));
    }
    return Optional.empty();
  }

  /** Ready and not being deleted. */
  public static boolean isReady(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() == null
        && condition(pod, "Ready").map(c -> "True".equals(c.getStatus())).orElse(false);
  }

  private static Optional<PodCondition> condition(Pod pod, String type) {
    if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
      return Optional.empty();
    }
    return pod.getStatus().getConditions().stream()
        .filter(c -> type.equals(c.getType()))
        .findFirst();
  }

  private static String cap(String message) {
    return message.length() <= MAX_MESSAGE ? message : message.substring(0, MAX_MESSAGE - 1) + "…";
  }
}
