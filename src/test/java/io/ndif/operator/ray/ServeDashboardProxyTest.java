package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.EnableKubernetesMockClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ndif.operator.observability.FleetMetrics;
import io.ndif.operator.observability.Tracing;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Dashboard calls through the API server's service proxy carry the operator's credentials. */
@EnableKubernetesMockClient
class ServeDashboardProxyTest {
  static KubernetesMockServer server;
  static KubernetesClient client;

  private static final String PROXY =
      "/api/v1/namespaces/ns/services/fleet-head-svc:8265/proxy/api/serve/applications/";

  @Test
  void readsAndWritesThroughTheServiceProxy() throws Exception {
    server
        .expect()
        .get()
        .withPath(PROXY)
        .andReturn(
            200,
            "{\"applications\": {\"gpt2\": {\"status\": \"RUNNING\", \"route_prefix\": \"/ns/gpt2\","
                + " \"deployments\": {\"ModelDeployment\": {\"replicas\": [{\"replica_id\": \"r1\","
                + " \"state\": \"RUNNING\", \"node_ip\": \"10.0.0.1\"}]}}}}}")
        .once();
    server.expect().put().withPath(PROXY).andReturn(200, "").once();
    var dashboard =
        new ServeDashboard(new FleetMetrics(new SimpleMeterRegistry()), Tracing.noop(), client);
    String base =
        ServeDashboard.proxyUrl(client.getConfiguration().getMasterUrl(), "ns", "fleet-head-svc");

    var apps = dashboard.applications(base);
    assertThat(apps.get("gpt2").status()).isEqualTo("RUNNING");
    assertThat(apps.get("gpt2").replicas())
        .extracting(ServeDashboard.Replica::nodeIp)
        .containsExactly("10.0.0.1");

    dashboard.apply(base, Map.of("applications", List.of()));
    var put = server.getLastRequest();
    assertThat(put.getMethod()).isEqualTo("PUT");
    assertThat(put.getPath()).isEqualTo(PROXY);
    assertThat(put.getBody().readUtf8()).isEqualTo("{\"applications\":[]}");
  }

  @Test
  void aFailingProxyIsAClearError() {
    server
        .expect()
        .get()
        .withPath("/api/v1/namespaces/ns/services/gone-head-svc:8265/proxy/api/serve/applications/")
        .andReturn(404, "services \"gone-head-svc\" not found")
        .once();
    var dashboard =
        new ServeDashboard(new FleetMetrics(new SimpleMeterRegistry()), Tracing.noop(), client);
    String base =
        ServeDashboard.proxyUrl(client.getConfiguration().getMasterUrl(), "ns", "gone-head-svc");
    assertThatThrownBy(() -> dashboard.applications(base))
        .isInstanceOf(ServeDashboard.DashboardException.class)
        .hasMessageContaining("answered 404: services \"gone-head-svc\" not found");
  }

  @Test
  void anUnreachableDashboardBehindTheProxyIsReportedAtOnceWithTheApiServersReason() {
    String path = "/api/v1/namespaces/ns/services/cut-head-svc:8265/proxy/api/serve/applications/";
    server
        .expect()
        .get()
        .withPath(path)
        .andReturn(
            503,
            "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
                + "\"message\":\"error trying to reach service: dial tcp 10.244.0.1:8265: connect:"
                + " network is unreachable\",\"reason\":\"ServiceUnavailable\",\"code\":503}")
        .always();
    var dashboard =
        new ServeDashboard(new FleetMetrics(new SimpleMeterRegistry()), Tracing.noop(), client);
    String base =
        ServeDashboard.proxyUrl(client.getConfiguration().getMasterUrl(), "ns", "cut-head-svc");
    int before = server.getRequestCount();
    assertThatThrownBy(() -> dashboard.applications(base))
        .isInstanceOf(ServeDashboard.DashboardException.class)
        .hasMessageEndingWith(
            "answered 503: error trying to reach service: dial tcp 10.244.0.1:8265: connect:"
                + " network is unreachable");
    // One request: the client's own retries of a 5xx would hide the reason behind a timeout.
    assertThat(server.getRequestCount() - before).isEqualTo(1);
  }
}
