package io.ndif.operator.cluster;

import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.GatewaySpec;
import io.ndif.operator.api.NdifClusterStatus.ServeApplication;
import io.ndif.operator.api.NdifClusterStatus.ServeReplica;
import io.ndif.operator.api.NdifClusterStatus.ServeStatus;
import io.ndif.operator.ray.ServeConfigs;
import io.ndif.operator.ray.ServeDashboard;
import io.ndif.operator.ray.ServeDashboard.DashboardException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Keeps a cluster's Ray Serve config equal to its admitted deployments: PUTs the whole
 * multi-application config when it changed (the applied hash is kept in status, so a restart does
 * not re-PUT) or when Ray lost applications (a head restart), and reads back every application.
 *
 * <p>A PUT replaces every declarative application on the cluster, so the applications this
 * NdifCluster does not own (an adopted cluster's own, another namespace's NdifCluster on the same
 * Ray cluster) go into it with the config Ray reports they were deployed with. Ours are those whose
 * {@code cluster} argument names this NdifCluster, whatever status says: one whose deployment was
 * deleted while the operator was down is removed by the next PUT. Applications put before that
 * argument existed are ours when the last status listed them.
 */
public class ServeSync {
  /** Status of an admitted deployment whose application name Ray already serves for another. */
  public static final String NAME_TAKEN = "NAME_TAKEN";

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(ServeSync.class);
  private final ServeDashboard dashboard;

  public ServeSync(ServeDashboard dashboard) {
    this.dashboard = dashboard;
  }

  /**
   * @param serve what to write to status.serve
   * @param error why the dashboard could not be used, or null
   * @param applied whether this pass PUT a new config
   */
  /**
   * @param refusedToken Ray's token authentication refused the call (no token, or a wrong one)
   */
  public record Result(ServeStatus serve, String error, boolean applied, boolean refusedToken) {
    public Result(ServeStatus serve, String error, boolean applied) {
      this(serve, error, applied, false);
    }

    public boolean settled() {
      return error == null
          && serve != null
          && serve.applications.stream()
              .allMatch(
                  a ->
                      "RUNNING".equals(a.status)
                          || "DEPLOY_FAILED".equals(a.status)
                          || NAME_TAKEN.equals(a.status));
    }
  }

  /**
   * @param gateway the gateway application's config, or null when the cluster has none
   */
  public Result sync(
      String dashboardUrl,
      String owner,
      List<ServeConfigs.Admitted> admitted,
      Map<String, Object> gateway,
      ServeStatus previous) {
    return sync(dashboardUrl, null, owner, admitted, gateway, previous);
  }

  /**
   * @param token Ray's token for the dashboard, or null when it needs none
   */
  public Result sync(
      String dashboardUrl,
      String token,
      String owner,
      List<ServeConfigs.Admitted> admitted,
      Map<String, Object> gateway,
      ServeStatus previous) {
    String previousHash = previous == null ? null : previous.appliedConfigHash;
    if (admitted.isEmpty() && gateway == null && previousHash == null) {
      // Nothing of ours was ever applied: leave an adopted cluster's own applications alone.
      return new Result(previous, null, false);
    }
    Set<String> previouslyOurs = new HashSet<>();
    if (previous != null) {
      previous.applications.stream()
          .filter(a -> !NAME_TAKEN.equals(a.status))
          .forEach(a -> previouslyOurs.add(a.name));
    }
    try {
      var apps = dashboard.applications(dashboardUrl, token);
      List<String> wanted = new ArrayList<>();
      admitted.forEach(a -> wanted.add(ServeConfigs.applicationName(a.deployment())));
      if (gateway != null) {
        wanted.add(GatewaySpec.APPLICATION);
      }
      Set<String> ours = ours(apps, owner, previouslyOurs);
      Map<String, String> taken = taken(wanted, apps, ours);
      var served =
          admitted.stream()
              .filter(a -> !taken.containsKey(ServeConfigs.applicationName(a.deployment())))
              .toList();
      boolean servesGateway = gateway != null && !taken.containsKey(GatewaySpec.APPLICATION);
      Map<String, Object> desired = ServeConfigs.config(served, servesGateway ? gateway : null);
      String hash = hash(desired);
      var names =
          new ArrayList<>(
              served.stream().map(a -> ServeConfigs.applicationName(a.deployment())).toList());
      if (servesGateway) {
        names.add(GatewaySpec.APPLICATION);
      }
      ours.addAll(names);
      var others = others(apps, ours);
      // An application of ours that is not wanted any more (its deployment was deleted, perhaps
      // while the operator was down) is removed by a PUT even when the config is unchanged.
      boolean stale = hasStale(apps, ours, names);
      boolean missing = !apps.keySet().containsAll(names);
      boolean applied = false;
      if (!hash.equals(previousHash) || missing || stale) {
        dashboard.apply(dashboardUrl, withOthers(desired, others), token);
        log.info(
            "applied the Serve config at {}: {} application(s), config {} (was {}){}",
            dashboardUrl,
            names.size(),
            hash.substring(0, 12),
            previousHash == null ? "none" : previousHash.substring(0, 12),
            missing ? ", Ray had lost applications" : stale ? ", removing stale ones" : "");
        applied = true;
        apps = dashboard.applications(dashboardUrl, token);
        others = others(apps, ours);
      }
      var serve = new ServeStatus();
      serve.appliedConfigHash = hash;
      serve.otherApplications = others.isEmpty() ? null : List.copyOf(others.keySet());
      for (String name : names.stream().sorted().toList()) {
        var app = apps.get(name);
        var entry = new ServeApplication();
        entry.name = name;
        if (app == null) {
          entry.status = "NOT_STARTED";
        } else {
          entry.status = app.status();
          entry.message = app.message() == null || app.message().isBlank() ? null : app.message();
          entry.route = app.routePrefix();
          for (var r : app.replicas()) {
            var replica = new ServeReplica();
            replica.id = r.id();
            replica.state = r.state();
            replica.nodeId = r.nodeId();
            replica.nodeIp = r.nodeIp();
            entry.replicas.add(replica);
          }
          entry.replicas.sort(java.util.Comparator.comparing(x -> x.id == null ? "" : x.id));
        }
        serve.applications.add(entry);
      }
      taken.forEach(
          (name, message) -> {
            var entry = new ServeApplication();
            entry.name = name;
            entry.status = NAME_TAKEN;
            entry.message = message;
            serve.applications.add(entry);
          });
      serve.applications.sort(java.util.Comparator.comparing(a -> a.name));
      return new Result(serve, null, applied);
    } catch (DashboardException e) {
      return new Result(previous, e.getMessage(), false, e.refusedToken());
    }
  }

  /**
   * The applications on the Ray cluster that this NdifCluster owns: those whose owner argument
   * names it, and those with no owner argument that the last status listed (put before the argument
   * existed).
   */
  static Set<String> ours(
      Map<String, ServeDashboard.Application> apps, String owner, Set<String> previouslyOurs) {
    Set<String> ours = new HashSet<>();
    apps.forEach(
        (name, app) -> {
          String theirs = ownerOf(app);
          if (owner.equals(theirs) || (theirs == null && previouslyOurs.contains(name))) {
            ours.add(name);
          }
        });
    return ours;
  }

  private static boolean hasStale(
      Map<String, ServeDashboard.Application> apps, Set<String> ours, List<String> wanted) {
    return ours.stream()
        .anyMatch(
            n ->
                apps.containsKey(n)
                    && !wanted.contains(n)
                    && !"DELETING".equals(apps.get(n).status()));
  }

  /** The owner argument of an application as Ray reports it was deployed, or null. */
  static String ownerOf(ServeDashboard.Application app) {
    if (app.deployedConfig() != null
        && app.deployedConfig().get("args") instanceof Map<?, ?> args
        && args.get(ServeConfigs.OWNER_ARG) instanceof String owner) {
      return owner;
    }
    return null;
  }

  /**
   * Wanted applications whose name Ray already serves for someone else (the adopted cluster's own
   * application, or another NdifCluster's on the same Ray cluster), with why.
   */
  static Map<String, String> taken(
      List<String> wanted, Map<String, ServeDashboard.Application> apps, Set<String> ours) {
    Map<String, String> taken = new TreeMap<>();
    for (String name : wanted) {
      var app = apps.get(name);
      if (app == null || ours.contains(name) || "DELETING".equals(app.status())) {
        continue;
      }
      String owner = ownerOf(app);
      taken.put(
          name,
          "Ray already serves an application named "
              + name
              + " that is not this "
              + (GatewaySpec.APPLICATION.equals(name) ? "cluster's" : "deployment's")
              + " ("
              + (app.deployedConfig() == null
                  ? "deployed from Python"
                  : owner != null ? "NdifCluster " + owner + " owns it" : "the Ray cluster's own")
              + (GatewaySpec.APPLICATION.equals(name)
                  ? "); one gateway serves a Ray cluster: turn this cluster's gateway off or remove"
                      + " that application"
                  : "); rename the NdifDeployment or remove that application"));
    }
    return taken;
  }

  /** Declarative applications nobody here owns, by name, with their deployed configs. */
  static Map<String, Map<String, Object>> others(
      Map<String, ServeDashboard.Application> apps, Set<String> ours) {
    Map<String, Map<String, Object>> others = new TreeMap<>();
    apps.forEach(
        (name, app) -> {
          // A DELETING application is on its way out (perhaps ours, removed by the last PUT).
          if (!ours.contains(name)
              && app.deployedConfig() != null
              && !"DELETING".equals(app.status())) {
            others.put(name, app.deployedConfig());
          }
        });
    return others;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> withOthers(
      Map<String, Object> desired, Map<String, Map<String, Object>> others) {
    if (others.isEmpty()) {
      return desired;
    }
    Map<String, Object> config = new LinkedHashMap<>(desired);
    List<Object> applications =
        new ArrayList<>((List<Object>) desired.getOrDefault("applications", List.of()));
    applications.addAll(others.values());
    config.put("applications", applications);
    return config;
  }

  static String hash(Map<String, Object> config) {
    try {
      var digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of()
          .formatHex(digest.digest(Serialization.asJson(config).getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
