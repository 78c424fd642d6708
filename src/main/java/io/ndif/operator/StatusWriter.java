package io.ndif.operator;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.CustomResource;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.PrimaryUpdateAndCacheUtils;
import io.ndif.operator.observability.Tracing;
import java.util.function.Supplier;

/**
 * Writes a computed status: server-side apply of a fresh object that carries only name, namespace
 * and status (so the operator owns nothing else and a stale resourceVersion cannot conflict),
 * cached at once so that the next reconcile never reads an older status from the informer.
 */
public final class StatusWriter {
  private StatusWriter() {}

  public static <P extends CustomResource<?, S>, S> void write(
      P resource, S status, Supplier<P> fresh, Context<P> context, Tracing tracing) {
    P patch = fresh.get();
    patch.setMetadata(
        new ObjectMetaBuilder()
            .withName(resource.getMetadata().getName())
            .withNamespace(resource.getMetadata().getNamespace())
            .build());
    patch.setStatus(status);
    tracing.child(
        "status.patch",
        () -> PrimaryUpdateAndCacheUtils.ssaPatchStatusAndCacheResource(resource, patch, context));
  }
}
