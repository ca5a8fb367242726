package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class GantryApiTest {

  private static final Instant T0 = Instant.parse("2026-12-06T10:00:00Z");

  @Test
  void readsTheDeploymentAndTheWorkersListing() {
    GantryApi.Deployment d =
        GantryApi.Deployment.from(
            Json.parseObject(
                "{\"id\":\"dep_1\",\"model\":\"m\",\"status\":\"running\",\"min_workers\":0,"
                    + "\"max_workers\":8,\"concurrency\":16,\"idle_timeout_seconds\":5,"
                    + "\"max_tokens_limit\":4096,\"env\":{}}"));
    assertThat(d).isEqualTo(new GantryApi.Deployment("dep_1", "m", "running", 0, 8, 16, 5, 4096));
    assertThat(d.policy()).isEqualTo(dev.gantry.autoscaler.ScalingPolicy.defaults(0, 8, 16));

    GantryApi.Deployment tuned =
        GantryApi.Deployment.from(
            Json.parseObject(
                "{\"id\":\"dep_1\",\"model\":\"m\",\"status\":\"running\",\"min_workers\":1,"
                    + "\"max_workers\":8,\"concurrency\":16,\"idle_timeout_seconds\":5,"
                    + "\"wait_time_seconds\":30,\"autoscaling\":{\"target_utilization\":0.75,"
                    + "\"scale_down_delay_seconds\":2.5,\"warm_buffer\":1,\"queue_delay_ms\":500}}"));
    assertThat(tuned.waitTimeSeconds()).isEqualTo(30);
    assertThat(tuned.policy())
        .isEqualTo(new dev.gantry.autoscaler.ScalingPolicy(1, 8, 16, 0.75, 2_500, 1, 500));
    // scale_down_delay_seconds null: the automatic delay.
    assertThat(
            GantryApi.Deployment.from(
                    Json.parseObject(
                        "{\"id\":\"d\",\"model\":\"m\",\"status\":\"running\",\"min_workers\":0,"
                            + "\"max_workers\":8,\"concurrency\":16,\"idle_timeout_seconds\":5,"
                            + "\"autoscaling\":{\"target_utilization\":1,"
                            + "\"scale_down_delay_seconds\":null,\"warm_buffer\":0,"
                            + "\"queue_delay_ms\":0}}"))
                .policy()
                .scaleDownDelayMillis())
        .isEqualTo(dev.gantry.autoscaler.ScalingPolicy.AUTO_DELAY);

    @SuppressWarnings("unchecked")
    List<Object> listing =
        (List<Object>)
            Json.parse(
                "[{\"id\":\"dep_1-w2\",\"status\":\"healthy\",\"gpu_type\":null,"
                    + "\"created_at\":\"2026-12-06T10:00:01.500000Z\",\"healthy_at\":\"2026-12-06T10:00:03Z\","
                    + "\"stopped_at\":null,\"in_flight\":0,\"failure_reason\":null},"
                    + "{\"id\":\"dep_1-w1\",\"status\":\"stopped\",\"gpu_type\":null,"
                    + "\"created_at\":\"2026-12-06T10:00:00Z\",\"healthy_at\":null,"
                    + "\"stopped_at\":\"2026-12-06T10:00:04Z\",\"in_flight\":0,"
                    + "\"failure_reason\":null}]");
    assertThat(GantryApi.Worker.fromListing(listing))
        .containsExactly(
            new GantryApi.Worker(
                "dep_1-w2", "healthy", T0.plusMillis(1500), T0.plusSeconds(3), null),
            new GantryApi.Worker("dep_1-w1", "stopped", T0, null, T0.plusSeconds(4)));
  }

  @Test
  void anUnreachableGantryIsNamedInTheError() throws Exception {
    int port;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = socket.getLocalPort(); // closed again: nothing listens there
    }
    try (HttpClient client = HttpClient.newHttpClient()) {
      GantryApi api = new GantryApi(client, URI.create("http://127.0.0.1:" + port + "/"), "gk_k");

      assertThatThrownBy(() -> api.deployment("dep_1"))
          .isInstanceOf(IOException.class)
          .hasMessageStartingWith(
              "GET http://127.0.0.1:" + port + "/api/v1/deployments/dep_1 failed:")
          .hasMessageContaining("ConnectException")
          .hasMessageNotContaining("gk_k");
    }
  }

  @Test
  void usageCountsEachWorkersTimeInsideTheWindow() {
    Instant from = T0.plusSeconds(10);
    Instant to = T0.plusSeconds(40);
    List<GantryApi.Worker> workers =
        List.of(
            // there before the run and still running: 30 s inside the window, not started
            new GantryApi.Worker("w1", "healthy", T0, T0.plusSeconds(9), null),
            // started during the run, stopped: 12.5 s
            new GantryApi.Worker(
                "w2", "stopped", T0.plusSeconds(15), T0.plusSeconds(17), T0.plusMillis(27_500)),
            // started during the run, still current at its end: 5 s
            // (cold starts of the workers started: 2 s and 1 s; w1's 9 s was before the run)
            new GantryApi.Worker("w3", "healthy", T0.plusSeconds(35), T0.plusSeconds(36), null),
            // stopped before the run (still listed): nothing
            new GantryApi.Worker("w0", "stopped", T0.minusSeconds(60), null, T0.minusSeconds(1)));

    GantryApi.Usage usage = GantryApi.Usage.of(Set.of("w0", "w1"), workers, from, to);

    assertThat(usage).isEqualTo(new GantryApi.Usage(2, 47.5, 2, 2, 1.5));
  }
}
