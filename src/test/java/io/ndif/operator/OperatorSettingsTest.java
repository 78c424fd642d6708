package io.ndif.operator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class OperatorSettingsTest {
  @Test
  void defaultsWatchEveryNamespace() {
    var settings = OperatorSettings.from(new String[0], Map.of());
    assertThat(settings.watchNamespaces()).isEmpty();
    assertThat(settings.reconcileThreads()).isEqualTo(10);
  }

  @Test
  void flagsWinOverEnvironment() {
    var settings =
        OperatorSettings.from(
            new String[] {"--watch-namespaces=a, b,", "--reconcile-threads=3"},
            Map.of("WATCH_NAMESPACES", "c", "RECONCILE_THREADS", "7"));
    assertThat(settings.watchNamespaces()).isEqualTo(Set.of("a", "b"));
    assertThat(settings.reconcileThreads()).isEqualTo(3);
    assertThat(
            OperatorSettings.from(new String[0], Map.of("WATCH_NAMESPACES", "c")).watchNamespaces())
        .containsExactly("c");
  }

  @Test
  void dashboardAccessIsServiceOrProxy() {
    assertThat(OperatorSettings.from(new String[0], Map.of()).dashboardAccess())
        .isEqualTo(OperatorSettings.DashboardAccess.SERVICE);
    assertThat(
            OperatorSettings.from(new String[] {"--dashboard-access=proxy"}, Map.of())
                .dashboardAccess())
        .isEqualTo(OperatorSettings.DashboardAccess.PROXY);
    assertThatThrownBy(
            () -> OperatorSettings.from(new String[0], Map.of("DASHBOARD_ACCESS", "tunnel")))
        .hasMessage("dashboard-access must be service or proxy, got tunnel");
  }

  @Test
  void badNumbersAreClearErrors() {
    assertThatThrownBy(
            () -> OperatorSettings.from(new String[] {"--reconcile-threads=many"}, Map.of()))
        .hasMessage("reconcile-threads must be a whole number, got many");
    assertThatThrownBy(() -> OperatorSettings.from(new String[0], Map.of("RECONCILE_THREADS", "0")))
        .hasMessage("reconcile-threads must be at least 1, got 0");
  }
}
