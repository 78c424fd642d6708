package io.ndif.operator.deployment;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.ndif.operator.api.NdifDeploymentSpec;
import io.ndif.operator.api.ServePolicySpec;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ServePolicyTest {
  private static final String MODEL = "clusterRef: c\nmodel: {repoId: gpt2, sizeBytes: 1Gi}\n";

  static Stream<Arguments> cases() {
    return Stream.of(
        Arguments.of(
            "the default policy serves the operator's own application", "{}", "", List.of()),
        Arguments.of(
            "the default builder named explicitly",
            "{}",
            "serve: {importPath: 'ndif_serve.app:build'}",
            List.of()),
        Arguments.of(
            "the default policy refuses another builder",
            "{}",
            "serve: {importPath: 'mylab.apps:build'}",
            List.of(
                "serve.importPath mylab.apps:build is not in the cluster's"
                    + " policy.allowedImportPaths [ndif_serve.app:build]")),
        Arguments.of(
            "a prefix pattern admits its builders",
            "{allowedImportPaths: ['ndif_serve.app:build', 'mylab.apps.*']}",
            "serve: {importPath: 'mylab.apps.vision:build'}",
            List.of()),
        Arguments.of(
            "a package pattern admits the package's own module",
            "{allowedImportPaths: ['mylab.apps.*']}",
            "serve: {importPath: 'mylab.apps:build'}",
            List.of()),
        Arguments.of(
            "a package pattern is not a name prefix",
            "{allowedImportPaths: ['mylab.apps.*']}",
            "serve: {importPath: 'mylab.appsevil:build'}",
            List.of(
                "serve.importPath mylab.appsevil:build is not in the cluster's"
                    + " policy.allowedImportPaths [mylab.apps.*]")),
        Arguments.of(
            "a prefix pattern is a prefix, not a substring",
            "{allowedImportPaths: ['mylab.apps.*']}",
            "serve: {importPath: 'evil.mylab.apps:build'}",
            List.of(
                "serve.importPath evil.mylab.apps:build is not in the cluster's"
                    + " policy.allowedImportPaths [mylab.apps.*]")),
        Arguments.of(
            "an allow list without the default builder refuses it",
            "{allowedImportPaths: ['mylab.apps:build']}",
            "",
            List.of(
                "serve.importPath ndif_serve.app:build is not in the cluster's"
                    + " policy.allowedImportPaths [mylab.apps:build]")),
        Arguments.of(
            "runtime environments are refused by default",
            "{}",
            "serve: {runtimeEnv: {pip: [requests]}}",
            List.of(
                "serve.runtimeEnv is set and the cluster's policy.allowRuntimeEnv is not true")),
        Arguments.of(
            "an empty runtime environment is no runtime environment",
            "{}",
            "serve: {runtimeEnv: {}}",
            List.of()),
        Arguments.of(
            "runtime environments where the owner allows them",
            "{allowRuntimeEnv: true}",
            "serve: {runtimeEnv: {pip: [requests]}}",
            List.of()),
        Arguments.of(
            "extra arguments are allowed by default",
            "{}",
            "serve: {args: {max_new_tokens_limit: 16}}",
            List.of()),
        Arguments.of(
            "extra arguments where the owner refuses them",
            "{allowExtraArgs: false}",
            "serve: {args: {max_new_tokens_limit: 16}}",
            List.of("serve.args is set and the cluster's policy.allowExtraArgs is false")),
        Arguments.of(
            "a repository's own code where the owner refuses it",
            "{allowTrustRemoteCode: false}",
            "model: {repoId: gpt2, sizeBytes: 1Gi, trustRemoteCode: true}",
            List.of(
                "model.trustRemoteCode is true and the cluster's policy.allowTrustRemoteCode is"
                    + " false")),
        Arguments.of(
            "every broken rule is named",
            "{allowExtraArgs: false}",
            "serve: {importPath: 'x:y', runtimeEnv: {env_vars: {A: b}}, args: {a: 1}}",
            List.of(
                "serve.importPath x:y is not in the cluster's policy.allowedImportPaths"
                    + " [ndif_serve.app:build]",
                "serve.runtimeEnv is set and the cluster's policy.allowRuntimeEnv is not true",
                "serve.args is set and the cluster's policy.allowExtraArgs is false")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void violations(String name, String policy, String spec, List<String> expected) throws Exception {
    String yaml = spec.startsWith("model:") ? "clusterRef: c\n" + spec : MODEL + spec;
    var deployment = Serialization.unmarshal(yaml, NdifDeploymentSpec.class);
    assertThat(
            ServePolicy.violations(
                new YAMLMapper().readValue(policy, ServePolicySpec.class), deployment))
        .containsExactlyElementsOf(expected);
  }
}
