package io.ndif.operator.cluster;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Kubernetes nodes by name, from a watch; read for GPU labels of the nodes Ray pods run on. Nodes
 * never trigger a reconcile: pods do.
 */
public class NodeLookup implements AutoCloseable {
  private final SharedIndexInformer<Node> informer;

  public NodeLookup(KubernetesClient client) {
    this.informer = client.nodes().inform();
  }

  public Map<String, Node> byName(Collection<String> names) {
    Map<String, Node> nodes = new LinkedHashMap<>();
    names.stream()
        .filter(Objects::nonNull)
        .distinct()
        .forEach(
            name -> {
              Node node = informer.getStore().getByKey(name);
              if (node != null) {
                nodes.put(name, node);
              }
            });
    return nodes;
  }

  @Override
  public void close() {
    informer.close();
  }
}
