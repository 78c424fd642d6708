package io.ndif.operator;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfiguration;
import io.javaoperatorsdk.operator.api.config.LeaderElectionConfigurationBuilder;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader election lease. Lost while running, the process exits so that its pod restarts as a
 * follower; on a clean stop it is handed over at once instead of left to expire.
 */
final class LeaderLease {
  private static final Logger log = LoggerFactory.getLogger(LeaderLease.class);

  private final KubernetesClient client;
  private final String namespace;
  private final String identity;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final Consumer<Boolean> leading;

  LeaderLease(
      KubernetesClient client, String namespace, String identity, Consumer<Boolean> leading) {
    this.client = client;
    this.namespace = namespace;
    this.identity = identity;
    this.leading = leading;
  }

  LeaderElectionConfiguration configuration() {
    return LeaderElectionConfigurationBuilder.aLeaderElectionConfiguration(
            OperatorSettings.LEASE_NAME)
        .withLeaseNamespace(namespace)
        .withIdentity(identity)
        // JOSDK's own exit runs inside the shutdown hook on SIGTERM, and System.exit called from a
        // shutdown hook blocks forever: the process would wait for SIGKILL.
        .withExitOnStopLeading(false)
        .withLeaderCallbacks(
            new LeaderCallbacks(this::startedLeading, this::stoppedLeading, leader -> {}))
        .build();
  }

  /** Called before the operator stops, so that giving up the lease is not taken for losing it. */
  void stopping() {
    stopping.set(true);
  }

  /** Hands the lease over (no holder, one second left) if this process still holds it. */
  void release() {
    var config =
        new LeaderElectionConfigBuilder()
            .withName(OperatorSettings.LEASE_NAME)
            .withLock(new LeaseLock(namespace, OperatorSettings.LEASE_NAME, identity))
            .withLeaseDuration(LeaderElectionConfiguration.LEASE_DURATION_DEFAULT_VALUE)
            .withRenewDeadline(LeaderElectionConfiguration.RENEW_DEADLINE_DEFAULT_VALUE)
            .withRetryPeriod(LeaderElectionConfiguration.RETRY_PERIOD_DEFAULT_VALUE)
            .withLeaderCallbacks(new LeaderCallbacks(() -> {}, () -> {}, leader -> {}))
            .build();
    try {
      if (client.leaderElector().withConfig(config).build().release()) {
        log.info("released the leader lease {}/{}", namespace, OperatorSettings.LEASE_NAME);
      }
    } catch (KubernetesClientException e) {
      log.warn("could not release the leader lease; it expires by itself: {}", e.getMessage());
    }
  }

  private void startedLeading() {
    log.info("leading as {}", identity);
    leading.accept(true);
  }

  private void stoppedLeading() {
    leading.accept(false);
    if (stopping.get()) {
      return;
    }
    log.error(
        "lost the leader lease {}/{} as {}; exiting so that a restart follows the new leader",
        namespace,
        OperatorSettings.LEASE_NAME,
        identity);
    // Not from this thread: the shutdown hook stops the elector and waits for this very thread.
    new Thread(() -> System.exit(1), "lost-lease-exit").start();
  }
}
