package io.ndif.operator.observability;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.Constants;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records Kubernetes Events on the operator's resources, aggregated as Kubernetes' own event
 * recorder does: an Event identical to one recorded before (same object, type, reason and message)
 * raises that Event's count and last timestamp instead of creating another, and once an object has
 * had {@value #SIMILAR_LIMIT} Events of one reason with different messages within {@link
 * #SIMILAR_WINDOW}, further ones go into a single Event whose message says it is combined. A
 * failure to record is only logged.
 *
 * <p>What was recorded is remembered in memory only (as in Kubernetes): after a restart the first
 * Event of a kind is a new object again.
 */
public class EventRecorder {
  private static final Logger log = LoggerFactory.getLogger(EventRecorder.class);
  static final int SIMILAR_LIMIT = 10;
  static final Duration SIMILAR_WINDOW = Duration.ofMinutes(10);
  static final String COMBINED = "(combined from similar events): ";
  private static final int REMEMBERED = 4096;
  static final int BACKLOG = 10_000;
  private static final int WRITERS = 4;

  public enum Type {
    Normal,
    Warning
  }

  private record Recorded(String name, int count) {}

  private final KubernetesClient client;
  private final Clock clock;
  private final Executor writer;
  private final Map<String, Recorded> recorded = lru();
  private final Map<String, Deque<Instant>> similar = lru();

  public EventRecorder(KubernetesClient client) {
    this(client, Clock.systemUTC(), writers());
  }

  EventRecorder(KubernetesClient client, Clock clock, Executor writer) {
    this.client = client;
    this.clock = clock;
    this.writer = writer;
  }

  public void record(HasMetadata resource, Type type, String reason, String message) {
    Instant now = clock.instant();
    try {
      writer.execute(() -> write(resource, type, reason, message, now));
    } catch (RejectedExecutionException e) {
      log.warn(
          "dropped event {} on {}: {} events wait to be written",
          reason,
          resource.getMetadata().getName(),
          BACKLOG);
    }
  }

  private static Executor writers() {
    var threads = new AtomicInteger();
    var pool =
        new ThreadPoolExecutor(
            WRITERS,
            WRITERS,
            30,
            TimeUnit.SECONDS,
            new LinkedBlockingQueue<>(BACKLOG),
            runnable -> {
              var thread = new Thread(runnable, "event-writer-" + threads.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  private void write(HasMetadata resource, Type type, String reason, String message, Instant now) {
    var meta = resource.getMetadata();
    String group =
        meta.getNamespace()
            + "/"
            + meta.getName()
            + "/"
            + meta.getUid()
            + "|"
            + type
            + "|"
            + reason;
    String key = group + "|" + message;
    String text = message;
    Recorded before;
    synchronized (this) {
      if (!recorded.containsKey(key) && similarMessages(group, now) > SIMILAR_LIMIT) {
        key = group + "|combined";
        text = COMBINED + message;
      }
      before = recorded.get(key);
    }
    try {
      Recorded after =
          before == null || !raiseCount(meta.getNamespace(), before, text, now)
              ? new Recorded(create(resource, type, reason, text, now), 1)
              : new Recorded(before.name(), before.count() + 1);
      synchronized (this) {
        recorded.put(key, after);
      }
    } catch (KubernetesClientException e) {
      log.warn("could not record event {} on {}: {}", reason, meta.getName(), e.getMessage());
    }
  }

  /** Counts this Event among the object's Events of its reason in the window, this one included. */
  private int similarMessages(String group, Instant now) {
    var times = similar.computeIfAbsent(group, g -> new ArrayDeque<>());
    while (!times.isEmpty() && times.peekFirst().isBefore(now.minus(SIMILAR_WINDOW))) {
      times.removeFirst();
    }
    times.addLast(now);
    return times.size();
  }

  /** False when the Event is gone (expired by the API server's TTL), so a new one is made. */
  private boolean raiseCount(String namespace, Recorded before, String message, Instant now) {
    var patch =
        Map.of("count", before.count() + 1, "lastTimestamp", now.toString(), "message", message);
    try {
      client
          .v1()
          .events()
          .inNamespace(namespace)
          .withName(before.name())
          .patch(PatchContext.of(PatchType.JSON_MERGE), Serialization.asJson(patch));
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        return false;
      }
      throw e;
    }
  }

  private String create(
      HasMetadata resource, Type type, String reason, String message, Instant now) {
    var meta = resource.getMetadata();
    Event event =
        new EventBuilder()
            .withNewMetadata()
            .withName(meta.getName() + "." + UUID.randomUUID().toString().substring(0, 13))
            .withNamespace(meta.getNamespace())
            .endMetadata()
            .withInvolvedObject(
                new ObjectReferenceBuilder()
                    .withApiVersion(resource.getApiVersion())
                    .withKind(resource.getKind())
                    .withName(meta.getName())
                    .withNamespace(meta.getNamespace())
                    .withUid(meta.getUid())
                    .withResourceVersion(meta.getResourceVersion())
                    .build())
            .withType(type.name())
            .withReason(reason)
            .withMessage(message)
            .withNewSource()
            .withComponent(Constants.OPERATOR_NAME)
            .endSource()
            .withReportingComponent(Constants.OPERATOR_NAME)
            .withFirstTimestamp(now.toString())
            .withLastTimestamp(now.toString())
            .withCount(1)
            .build();
    client.v1().events().inNamespace(meta.getNamespace()).resource(event).create();
    return event.getMetadata().getName();
  }

  private static <V> Map<String, V> lru() {
    return new LinkedHashMap<>(16, 0.75f, true) {
      @Override
      protected boolean removeEldestEntry(Map.Entry<String, V> eldest) {
        return size() > REMEMBERED;
      }
    };
  }
}
