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
        public Map<String, ServeDashboard.Application> applications(String baseUrl, String token) {
          return Map.copyOf(rayApps);
        }

        @Override
        public void apply(String baseUrl, Map<String, Object> config, String token) {
          puts.add(config);
        }
      };
  private static final String OWNER = "ns/c";
  private final ServeSync sync = new ServeSync(dashboard);

  @Test
  void applicationsNobodyHereOwnsRideAlongOnEveryPut() {
    Map<String, Object> theirsConfig = Map.of("name", "theirs", "import_path", "their.app:build");
    rayApps.put("theirs", app("theirs", "RUNNING", theirsConfig));
    rayApps.put("imperative", app("imperative", "RUNNING", null));
    var previous = new NdifClusterStatus.ServeStatus();
    previous.appliedConfigHash = "an older config";

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, previous);

    assertThat(puts).hasSize(1);
    assertThat(applicationNames(puts.get(0))).containsExactly("ns_tiny", "theirs");
    assertThat(applications(puts.get(0)).get(1)).isEqualTo(theirsConfig);
    assertThat(applications(puts.get(0)).get(0).get("args"))
        .asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.MAP)
        .containsEntry("cluster", OWNER)
        .containsEntry("deployment", "ns/tiny");
    assertThat(result.serve().otherApplications).containsExactly("theirs");
    assertThat(result.serve().applications).extracting(a -> a.name).containsExactly("ns_tiny");
  }

  @Test
  void anApplicationPutBeforeOwnersWereRecordedIsOursWhenStatusListedIt() {
    // Applications were once named after the deployment alone, with no owner argument: the one
    // the last status listed is replaced by its namespaced successor, once.
    rayApps.put("tiny", app("tiny", "RUNNING", Map.of("name", "tiny", "import_path", "x:y")));
    rayApps.put("theirs", app("theirs", "RUNNING", Map.of("name", "theirs")));
    var previous = new NdifClusterStatus.ServeStatus();
    previous.appliedConfigHash = "an older config";
    var tiny = new NdifClusterStatus.ServeApplication();
    tiny.name = "tiny";
    previous.applications.add(tiny);

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, previous);

    assertThat(applicationNames(puts.get(0))).containsExactly("ns_tiny", "theirs");
    assertThat(result.serve().otherApplications).containsExactly("theirs");
  }

  @Test
  void twoTenantsOfOneRayClusterKeepEachOthersApplicationsOfTheSameName() {
    Map<String, Object> other =
        Map.of(
            "name",
            "other_tiny",
            "route_prefix",
            "/other/tiny",
            "args",
            Map.of("cluster", "other/c", "deployment", "other/tiny"));
    rayApps.put("other_tiny", app("other_tiny", "RUNNING", other));

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, null);

    assertThat(applicationNames(puts.get(0))).containsExactly("ns_tiny", "other_tiny");
    assertThat(applications(puts.get(0)).get(1)).isEqualTo(other);
    assertThat(result.serve().applications)
        .extracting(a -> a.name + " " + a.status)
        .containsExactly("ns_tiny NOT_STARTED");
    assertThat(result.serve().otherApplications).containsExactly("other_tiny");
  }

  @Test
  void anApplicationOfOursWhoseDeploymentIsGoneIsRemovedWhateverStatusSays() {
    // The operator was down while ns/gone was deleted, and the status that listed it was lost:
    // its owner argument still says it is ours. Another cluster's application is kept.
    var first = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, null);
    Map<String, Object> tinyConfig = applications(puts.get(0)).get(0);
    rayApps.put("ns_tiny", app("ns_tiny", "RUNNING", tinyConfig));
    rayApps.put(
        "ns_gone",
        app("ns_gone", "RUNNING", Map.of("name", "ns_gone", "args", Map.of("cluster", OWNER))));
    rayApps.put(
        "other_x",
        app("other_x", "RUNNING", Map.of("name", "other_x", "args", Map.of("cluster", "other/c"))));
    puts.clear();

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, first.serve());

    assertThat(result.serve().appliedConfigHash).isEqualTo(first.serve().appliedConfigHash);
    assertThat(puts).hasSize(1);
    assertThat(applicationNames(puts.get(0))).containsExactly("ns_tiny", "other_x");
    assertThat(result.serve().otherApplications).containsExactly("other_x");
  }

  @Test
  void anApplicationBeingDeletedIsNotKept() {
    rayApps.put("leaving", app("leaving", "DELETING", Map.of("name", "leaving")));

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, null);

    assertThat(applicationNames(puts.get(0))).containsExactly("ns_tiny");
    assertThat(result.serve().otherApplications).isNull();
  }

  @Test
  void aClusterWhereNothingWasEverAppliedIsLeftAlone() {
    rayApps.put("theirs", app("theirs", "RUNNING", Map.of("name", "theirs")));

    var result = sync.sync("http://ray", OWNER, List.of(), null, null);

    assertThat(puts).isEmpty();
    assertThat(result.serve()).isNull();
  }

  @Test
  void theGatewayIsPutWithTheModelsAndReportedLikeThem() {
    var gateway = ServeConfigs.gateway(new GatewaySpec(), "/k", OWNER, null);

    var first = sync.sync("http://ray", OWNER, List.of(), gateway, null);

    assertThat(puts).hasSize(1);
    assertThat(applicationNames(puts.get(0))).containsExactly("ndif-gateway");
    assertThat(first.serve().applications).extracting(a -> a.name).containsExactly("ndif-gateway");
    assertThat(first.serve().applications.get(0).status).isEqualTo("NOT_STARTED");

    rayApps.put("ndif-gateway", app("ndif-gateway", "RUNNING", gateway));
    var second = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), gateway, first.serve());
    assertThat(applicationNames(puts.get(1))).containsExactly("ns_tiny", "ndif-gateway");
    rayApps.put("ns_tiny", app("ns_tiny", "RUNNING", applications(puts.get(1)).get(0)));

    // Steady state: nothing new to PUT.
    sync.sync("http://ray", OWNER, List.of(admitted("tiny")), gateway, second.serve());
    assertThat(puts).hasSize(2);

    // The gateway turned off: the next PUT leaves it out, and it is not kept as someone else's.
    var off = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, second.serve());
    assertThat(applicationNames(puts.get(2))).containsExactly("ns_tiny");
    assertThat(off.serve().otherApplications).isNull();
  }

  @Test
  void anotherApplicationNamedLikeTheGatewayIsNotTakenOver() {
    rayApps.put(
        "ndif-gateway",
        app(
            "ndif-gateway",
            "RUNNING",
            Map.of(
                "name",
                "ndif-gateway",
                "route_prefix",
                "/",
                "args",
                Map.of("cluster", "other/c"))));
    var gateway = ServeConfigs.gateway(new GatewaySpec(), "/k", OWNER, null);

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), gateway, null);

    // Theirs rides along unchanged; ours is not in the PUT.
    assertThat(applicationNames(puts.get(0))).containsExactly("ns_tiny", "ndif-gateway");
    assertThat(applications(puts.get(0)).get(1))
        .containsEntry("args", Map.of("cluster", "other/c"));
    var taken = result.serve().applications.stream().filter(a -> a.name.equals("ndif-gateway"));
    assertThat(taken)
        .singleElement()
        .satisfies(
            a -> {
              assertThat(a.status).isEqualTo(ServeSync.NAME_TAKEN);
              assertThat(a.message)
                  .isEqualTo(
                      "Ray already serves an application named ndif-gateway that is not this"
                          + " cluster's (NdifCluster other/c owns it); one gateway serves a Ray"
                          + " cluster: turn this cluster's gateway off or remove that"
                          + " application");
            });
  }

  @Test
  void aNameRayServesForSomeoneElseIsNotTakenOver() {
    Map<String, Object> theirs = Map.of("name", "ns_tiny", "route_prefix", "/mine");
    rayApps.put("ns_tiny", app("ns_tiny", "RUNNING", theirs));

    var result =
        sync.sync("http://ray", OWNER, List.of(admitted("tiny"), admitted("gpt2")), null, null);

    // Their application goes into the PUT as it is; ours under that name does not.
    assertThat(applicationNames(puts.get(0))).containsExactly("ns_gpt2", "ns_tiny");
    assertThat(applications(puts.get(0)).get(1)).isEqualTo(theirs);
    var tiny =
        result.serve().applications.stream().filter(a -> a.name.equals("ns_tiny")).findFirst();
    assertThat(tiny.get().status).isEqualTo(ServeSync.NAME_TAKEN);
    assertThat(tiny.get().message)
        .isEqualTo(
            "Ray already serves an application named ns_tiny that is not this deployment's (the"
                + " Ray cluster's own); rename the NdifDeployment or remove that application");
    assertThat(result.serve().otherApplications).containsExactly("ns_tiny");
    assertThat(result.settled()).isFalse(); // gpt2 is not RUNNING yet

    // Still someone else's on the next pass: the NAME_TAKEN entry does not make it ours.
    puts.clear();
    var again =
        sync.sync(
            "http://ray", OWNER, List.of(admitted("tiny"), admitted("gpt2")), null, result.serve());
    assertThat(
            again.serve().applications.stream()
                .filter(a -> a.name.equals("ns_tiny"))
                .findFirst()
                .get()
                .status)
        .isEqualTo(ServeSync.NAME_TAKEN);
  }

  @Test
  void aTakenNameDoesNotKeepTheClusterPollingFast() {
    rayApps.put("ns_tiny", app("ns_tiny", "RUNNING", Map.of("name", "ns_tiny")));

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, null);

    assertThat(result.serve().applications).extracting(a -> a.status).containsExactly("NAME_TAKEN");
    assertThat(result.settled()).isTrue();
  }

  @Test
  void anApplicationCarryingOurOwnerIsOursEvenIfStatusLostIt() {
    rayApps.put(
        "ns_tiny",
        app("ns_tiny", "RUNNING", Map.of("name", "ns_tiny", "args", Map.of("cluster", OWNER))));

    var result = sync.sync("http://ray", OWNER, List.of(admitted("tiny")), null, null);

    assertThat(applicationNames(puts.get(0))).containsExactly("ns_tiny");
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
