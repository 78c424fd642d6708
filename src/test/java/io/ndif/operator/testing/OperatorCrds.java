package io.ndif.operator.testing;

import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Installs the project's CRDs (crds/, as GitOps users apply them) and waits until served. */
public final class OperatorCrds {
  private OperatorCrds() {}

  public static void install(KubernetesClient client, Path projectDir) {
    try (var files = Files.list(projectDir.resolve("crds"))) {
      List<Path> crds = files.filter(p -> p.toString().endsWith(".yml")).sorted().toList();
      for (Path file : crds) {
        CustomResourceDefinition crd;
        try (InputStream in = Files.newInputStream(file)) {
          crd = client.apiextensions().v1().customResourceDefinitions().load(in).item();
        }
        client
            .apiextensions()
            .v1()
            .customResourceDefinitions()
            .resource(crd)
            .forceConflicts()
            .serverSideApply();
        client
            .apiextensions()
            .v1()
            .customResourceDefinitions()
            .withName(crd.getMetadata().getName())
            .waitUntilCondition(OperatorCrds::established, 30, TimeUnit.SECONDS);
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read crds/", e);
    }
  }

  /** A CRD's status can exist before its conditions do, so every step is null-checked. */
  public static boolean established(CustomResourceDefinition crd) {
    return crd != null
        && crd.getStatus() != null
        && crd.getStatus().getConditions() != null
        && crd.getStatus().getConditions().stream()
            .anyMatch(c -> "Established".equals(c.getType()) && "True".equals(c.getStatus()));
  }
}
