package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * A process with one role only, as cluster mode runs them: an orchestrator-only process starts, is
 * ready, and serves no gateway route (not the management API, not the data plane, not the OpenAPI
 * document, not the dashboard).
 */
class RolesIT {

  @Test
  void anOrchestratorOnlyProcessStartsAndServesNoGatewayRoute() throws Exception {
    try (var platform =
        new PlatformProcess("orchestrator-only", "--gantry.roles=orchestrator")
            .startWithoutGateway()) {
      assertThat(platform.get("/readyz").statusCode()).isEqualTo(200);
      assertThat(platform.get("/api/v1/deployments").statusCode()).isEqualTo(404);
      assertThat(platform.get("/openai/dep_x/v1/models").statusCode()).isEqualTo(404);
      assertThat(platform.get("/v3/api-docs").statusCode()).isEqualTo(404);
      // Nor the dashboard, whose page calls the gateway's API.
      assertThat(platform.get("/").statusCode()).isEqualTo(404);
      assertThat(platform.get("/ui/app.js").statusCode()).isEqualTo(404);
    }
  }
}
