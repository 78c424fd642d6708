package io.ndif.operator.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifClusterStatus;
import io.ndif.operator.api.NdifDeployment;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.observability.FleetMetrics;
import io.ndif.operator.observability.Tracing;
import io.ndif.operator.ray.ServeConfigs;
import io.ndif.operator.ray.ServeDashboard;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ServeSyncTest {
  private final Map<String, ServeDashboard.Application> rayApps = new LinkedHashMap<>();
  private final List<Map<String, Object>> puts = new ArrayList<>();
  private final ServeDashboard dashboard =
      new ServeDashboard(new FleetMetrics(new SimpleMeterRegistry()), Tracing.noop()) {
        @Override
        public Map<String, ServeDashboard.Application> applications(String baseUrl) {
          return Map.copyOf(rayApps);
        }

        @Override
        public void apply(String baseUrl, Map<String, Object> config) {
          puts.add(config);
        }
      };
  private final ServeSync sync = new ServeSync(dashboard);

  @Test
  void applicationsNobodyHereOwnsRideAlongOnEveryPut() {
    Map<String, Object> theirsConfig = Map.of("name", "theirs", "import_path", "their.app:build");
    rayApps.put("theirs", app("theirs", "RUNNING", theirsConfig));
    rayApps.put("imperative", app("imperative", "RUNNING", null));
    rayApps.put("gone", app("gone", "RUNNING", Map.of("name", "gone", "import_path", "x:y")));
    var previous = new NdifClusterStatus.ServeStatus();
    previous.appliedConfigHash = "an older config";
    var gone = new NdifClusterStatus.ServeApplication();
    gone.name = "gone";
    previous.applications.add(gone);

    var result = sync.sync("http://ray", List.of(admitted("tiny")), null, previous);

    assertThat(puts).hasSize(1);
    assertThat(applicationNames(puts.get(0))).containsExactly("tiny", "theirs");
    assertThat(applications(puts.get(0)).get(1)).isEqualTo(theirsConfig);
    assertThat(result.serve().otherApplications).containsExactly("theirs");
    assertThat(result.serve().applications).extracting(a -> a.name).containsExactly("tiny");
  }

  @Test
  void anApplicationBeingDeletedIsNotKept() {
    rayApps.put("leaving", app("leaving", "DELETING", Map.of("name", "leaving")));

    var result = sync.sync("http://ray", List.of(admitted("tiny")), null, null);

    assertThat(applicationNames(puts.get(0))).containsExactly("tiny");
    assertThat(result.serve().otherApplications).isNull();
  }

  @Test
  void aClusterWhereNothingWasEverAppliedIsLeftAlone() {
    rayApps.put("theirs", app("theirs", "RUNNING", Map.of("name", "theirs")));

    var result = sync.sync("http://ray", List.of(), null, null);

    assertThat(puts).isEmpty();
    assertThat(result.serve()).isNull();
  }

  @Test
  void theGatewayIsPutWithTheModelsAndReportedLikeThem() {
    var gateway = ServeConfigs.gateway(new GatewaySpec(), "/k", "ns/c", null);

    var first = sync.sync("http://ray", List.of(), gateway, null);

    assertThat(puts).hasSize(1);
    assertThat(applicationNames(puts.get(0))).containsExactly("ndif-gateway");
    assertThat(first.serve().applications).extracting(a -> a.name).containsExactly("ndif-gateway");
    assertThat(first.serve().applications.get(0).status).isEqualTo("NOT_STARTED");

    rayApps.put("ndif-gateway", app("ndif-gateway", "RUNNING", gateway));
    var second = sync.sync("http://ray", List.of(admitted("tiny")), gateway, first.serve());
    assertThat(applicationNames(puts.get(1))).containsExactly("tiny", "ndif-gateway");
    rayApps.put("tiny", app("tiny", "RUNNING", Map.of("name", "tiny")));

    // Steady state: nothing new to PUT.
    sync.sync("http://ray", List.of(admitted("tiny")), gateway, second.serve());
    assertThat(puts).hasSize(2);

    // The gateway turned off: the next PUT leaves it out, and it is not kept as someone else's.
    var off = sync.sync("http://ray", List.of(admitted("tiny")), null, second.serve());
    assertThat(applicationNames(puts.get(2))).containsExactly("tiny");
    assertThat(off.serve().otherApplications).isNull();
  }

  @Test
  void anotherApplicationNamedLikeTheGatewayIsNotTakenOver() {
    rayApps.put(
        "ndif-gateway",
        app("ndif-gateway", "RUNNING", Map.of("name", "ndif-gateway", "route_prefix", "/theirs")));
    var gateway = ServeConfigs.gateway(new GatewaySpec(), "/k", "ns/c", null);

    var result = sync.sync("http://ray", List.of(admitted("tiny")), gateway, null);

    // Theirs rides along unchanged; ours is not in the PUT.
    assertThat(applicationNames(puts.get(0))).containsExactly("tiny", "ndif-gateway");
    assertThat(applications(puts.get(0)).get(1)).containsEntry("route_prefix", "/theirs");
    var taken = result.serve().applications.stream().filter(a -> a.name.equals("ndif-gateway"));
    assertThat(taken)
        .singleElement()
        .satisfies(
            a -> {
              assertThat(a.status).isEqualTo(ServeSync.NAME_TAKEN);
              assertThat(a.message).contains("turn this cluster's gateway off");
            });
  }

  @Test
  void aNameRayServesForSomeoneElseIsNotTakenOver() {
    Map<String, Object> theirs = Map.of("name", "tiny", "route_prefix", "/other/tiny");
    rayApps.put("tiny", app("tiny", "RUNNING", theirs));

    var result = sync.sync("http://ray", List.of(admitted("tiny"), admitted("gpt2")), null, null);

    // Their application goes into the PUT as it is; ours under that name does not.
    assertThat(applicationNames(puts.get(0))).containsExactly("gpt2", "tiny");
    assertThat(applications(puts.get(0)).get(1)).isEqualTo(theirs);
    var tiny = result.serve().applications.stream().filter(a -> a.name.equals("tiny")).findFirst();
    assertThat(tiny.get().status).isEqualTo(ServeSync.NAME_TAKEN);
    assertThat(tiny.get().message)
        .isEqualTo(
            "Ray already serves an application named tiny that is not this deployment's (its"
                + " route is /other/tiny, this deployment's is /ns/tiny); rename the"
                + " NdifDeployment or remove that application");
    assertThat(result.serve().otherApplications).containsExactly("tiny");
    assertThat(result.settled()).isFalse(); // gpt2 is not RUNNING yet

    // Still someone else's on the next pass: the NAME_TAKEN entry does not make it ours.
    puts.clear();
    var again =
        sync.sync("http://ray", List.of(admitted("tiny"), admitted("gpt2")), null, result.serve());
    assertThat(
            again.serve().applications.stream()
                .filter(a -> a.name.equals("tiny"))
                .findFirst()
                .get()
                .status)
        .isEqualTo(ServeSync.NAME_TAKEN);
  }

  @Test
  void aTakenNameDoesNotKeepTheClusterPollingFast() {
    rayApps.put("tiny", app("tiny", "RUNNING", Map.of("name", "tiny", "route_prefix", "/x")));

    var result = sync.sync("http://ray", List.of(admitted("tiny")), null, null);

    assertThat(result.serve().applications).extracting(a -> a.status).containsExactly("NAME_TAKEN");
    assertThat(result.settled()).isTrue();
  }

  @Test
  void anApplicationAtOurRouteIsOursEvenIfStatusLostIt() {
    rayApps.put("tiny", app("tiny", "RUNNING", Map.of("name", "tiny", "route_prefix", "/ns/tiny")));

    var result = sync.sync("http://ray", List.of(admitted("tiny")), null, null);

    assertThat(applicationNames(puts.get(0))).containsExactly("tiny");
    assertThat(result.serve().applications.get(0).status).isEqualTo("RUNNING");
    assertThat(result.serve().otherApplications).isNull();
  }

  private static ServeDashboard.Application app(
      String name, String status, Map<String, Object> deployedConfig) {
    return new ServeDashboard.Application(
        name, status, null, "/" + name, List.of(), deployedConfig);
  }

  private static ServeConfigs.Admitted admitted(String name) {
    var d = new NdifDeployment();
    d.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("ns").build());
    d.setSpec(
        Serialization.unmarshal(
            "clusterRef: c\nmodel: {repoId: gpt2, sizeBytes: 1Gi}\n", NdifDeploymentSpec.class));
    return new ServeConfigs.Admitted(d, "a100", 0.25);
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> applications(Map<String, Object> config) {
    return (List<Map<String, Object>>) config.get("applications");
  }

  private static List<Object> applicationNames(Map<String, Object> config) {
    return applications(config).stream().map(a -> a.get("name")).toList();
  }
}
