package io.ndif.operator.ray;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

class ServeMessagesTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Test
  void aFailedDeploymentsTracebackBecomesItsFirstAndLastLine() throws Exception {
    var app =
        JSON.readTree(
            """
            {"status": "DEPLOY_FAILED",
             "message": "Failed to update the deployments ['ModelDeployment'].",
             "deployments": {
               "ModelDeployment": {"status": "DEPLOY_FAILED", "message":
                 "The deployment failed to start 3 times in a row. Error:\\n\\u001b[36mray::ServeReplica\\u001b[39m (pid=1)\\n  File \\"app.py\\", line 45\\n\\nndif_serve.model.ModelLoadError: failed to load model x: OSError: no such repo\\n"},
               "Other": {"status": "HEALTHY", "message": "fine"}}}
            """);
    assertThat(ServeMessages.of(app))
        .isEqualTo(
            "Failed to update the deployments ['ModelDeployment'].; ModelDeployment: The"
                + " deployment failed to start 3 times in a row. Error: … "
                + "ndif_serve.model.ModelLoadError: failed to load model x: OSError: no such repo");
  }

  @Test
  void healthyApplicationsHaveNoMessageAndLongOnesAreCut() throws Exception {
    assertThat(ServeMessages.of(JSON.readTree("{\"status\": \"RUNNING\", \"message\": \"\"}")))
        .isNull();
    var longOne = JSON.createObjectNode().put("message", "x".repeat(5000));
    assertThat(ServeMessages.of(longOne)).hasSize(ServeMessages.MAX_LENGTH).endsWith("…");
  }
}
