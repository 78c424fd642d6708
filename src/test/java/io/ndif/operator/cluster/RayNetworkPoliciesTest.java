package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.testing.Fixtures;
import org.junit.jupiter.api.Test;

class RayNetworkPoliciesTest {
  @Test
  void onlyTheRayPodsTheGatewayPortAndTheNamedCallersAreAdmitted() {
    var cluster =
        Fixtures.cluster(
            "fleet",
            Fixtures.TWO_POOLS
                + "networkPolicy:\n"
                + "  enabled: true\n"
                + "  dashboardFrom:\n"
                + "  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: ndif-system}}\n"
                + "    podSelector: {matchLabels: {app.kubernetes.io/name: ndif-operator}}\n"
                + "  metricsFrom:\n"
                + "  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}\n");
    assertThat(RayNetworkPolicies.wanted(cluster)).isTrue();
    var policy = Serialization.jsonMapper().valueToTree(RayNetworkPolicies.build(cluster));
    assertThat(policy.at("/metadata/name").asText()).isEqualTo("fleet-ray");
    assertThat(policy.at("/spec/podSelector/matchLabels/ndif.io~1cluster").asText())
        .isEqualTo("fleet");
    assertThat(policy.at("/spec/policyTypes").toString()).isEqualTo("[\"Ingress\"]");
    var ingress = policy.at("/spec/ingress");
    assertThat(ingress).hasSize(4);
    // Ray's own traffic, any port, from its pods only.
    assertThat(ingress.at("/0/from/0/podSelector/matchLabels/ndif.io~1cluster").asText())
        .isEqualTo("fleet");
    assertThat(ingress.at("/0/ports").isMissingNode()).isTrue();
    // The gateway from anywhere.
    assertThat(ingress.at("/1/from").isMissingNode()).isTrue();
    assertThat(ingress.at("/1/ports/0/port").asInt()).isEqualTo(8000);
    assertThat(ingress.at("/2/ports/0/port").asInt()).isEqualTo(8265);
    assertThat(ingress.at("/2/from/0/podSelector/matchLabels/app.kubernetes.io~1name").asText())
        .isEqualTo("ndif-operator");
    assertThat(ingress.at("/3/ports/0/port").asInt()).isEqualTo(8080);
  }

  @Test
  void offByDefaultAndNeverForAnAdoptedCluster() {
    assertThat(RayNetworkPolicies.wanted(Fixtures.cluster("fleet", Fixtures.TWO_POOLS))).isFalse();
    var adopted =
        Fixtures.cluster(
            "lab",
            Fixtures.TWO_POOLS
                + "external: {dashboardUrl: 'http://127.0.0.1:8265'}\n"
                + "gateway: {enabled: false}\n"
                + "networkPolicy: {enabled: true}\n");
    assertThat(RayNetworkPolicies.wanted(adopted)).isFalse();
    // With no callers named, the dashboard is closed to everything outside the Ray pods.
    var closed =
        Serialization.jsonMapper()
            .valueToTree(
                RayNetworkPolicies.build(
                    Fixtures.cluster(
                        "fleet", Fixtures.TWO_POOLS + "networkPolicy: {enabled: true}\n")));
    assertThat(closed.at("/spec/ingress")).hasSize(2);
  }
}
