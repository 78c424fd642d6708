package io.ndif.operator.install;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.authorization.v1.SubjectAccessReviewBuilder;
import io.fabric8.kubernetes.api.model.rbac.RoleBindingBuilder;
import io.ndif.operator.testing.LocalClusterExtension;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The RBAC of examples/rbac/, asked of the real API server: who may do what to which kind. */
class RbacExamplesIT {
  @org.junit.jupiter.api.extension.RegisterExtension
  static LocalClusterExtension cluster = new LocalClusterExtension();

  private static List<HasMetadata> roles;

  @BeforeAll
  static void bind() throws Exception {
    try (InputStream in = Files.newInputStream(Path.of("examples/rbac/roles.yaml"))) {
      roles = cluster.client().load(in).items();
    }
    roles.forEach(r -> cluster.client().resource(r).forceConflicts().serverSideApply());
    for (var binding :
        List.of(List.of("alice", "ndif-researcher"), List.of("bob", "ndif-cluster-admin"))) {
      cluster
          .client()
          .resource(
              new RoleBindingBuilder()
                  .withNewMetadata()
                  .withName(binding.get(1) + "-" + binding.get(0))
                  .endMetadata()
                  .withNewRoleRef()
                  .withApiGroup("rbac.authorization.k8s.io")
                  .withKind("ClusterRole")
                  .withName(binding.get(1))
                  .endRoleRef()
                  .addNewSubject()
                  .withApiGroup("rbac.authorization.k8s.io")
                  .withKind("User")
                  .withName(binding.get(0))
                  .endSubject()
                  .build())
          .inNamespace(cluster.namespace())
          .create();
    }
  }

  @AfterAll
  static void unbind() {
    if (roles != null) {
      roles.forEach(r -> cluster.client().resource(r).delete());
    }
  }

  static Stream<Arguments> questions() {
    return Stream.of(
        Arguments.of("alice", "create", "ndifdeployments", true),
        Arguments.of("alice", "patch", "ndifdeployments", true),
        Arguments.of("alice", "delete", "ndifdeployments", true),
        Arguments.of("alice", "get", "ndifclusters", true),
        Arguments.of("alice", "create", "ndifclusters", false),
        Arguments.of("alice", "patch", "ndifclusters", false),
        Arguments.of("alice", "delete", "ndifclusters", false),
        Arguments.of("bob", "patch", "ndifclusters", true),
        Arguments.of("bob", "create", "ndifclusters", true),
        Arguments.of("carol", "create", "ndifdeployments", false));
  }

  @ParameterizedTest(name = "{0} {1} {2}: {3}")
  @MethodSource("questions")
  void theApiServerAnswersAsTheExamplesSay(
      String user, String verb, String resource, boolean allowed) {
    var review =
        cluster
            .client()
            .authorization()
            .v1()
            .subjectAccessReview()
            .create(
                new SubjectAccessReviewBuilder()
                    .withNewSpec()
                    .withUser(user)
                    .withNewResourceAttributes()
                    .withGroup("ndif.io")
                    .withResource(resource)
                    .withVerb(verb)
                    .withNamespace(cluster.namespace())
                    .endResourceAttributes()
                    .endSpec()
                    .build());
    assertThat(review.getStatus().getAllowed()).isEqualTo(allowed);
  }
}
