package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * What users and operators see of a deployment, against the real jar and a real {@code sim} engine:
 * its workers' logs with its own secret masked, its usage report after a request (time to first
 * byte included), and the Prometheus exposition, for an admin key only, naming the deployment but
 * never a request.
 */
class ObservabilityIT {
  /** No credential pattern knows it: only masking by the deployment's own values hides it. */
  static final String SECRET = "plain-passphrase-for-the-it";

  @Test
  @Timeout(120)
  void logsUsageAndMetricsOfADeploymentThatServedARequest() throws Exception {
    try (var platform = new PlatformProcess("observability").start()) {
      var created =
          platform.post(
              "/api/v1/deployments",
              Map.of(
                  "name",
                  "observed",
                  "model",
                  "tiny-observed",
                  "framework",
                  "sim",
                  "env",
                  Map.of("HF_TOKEN", SECRET)));
      assertThat(created.statusCode()).isEqualTo(201);
      String id = PlatformProcess.json(created).path("id").asText();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> PlatformProcess.json(platform.get("/api/v1/deployments/" + id)).path("status"),
              s -> s.asText().equals("running"));

      Instant before = Instant.now().minusSeconds(60);
      var answer =
          platform.post(
              "/openai/" + id + "/v1/chat/completions",
              Map.of(
                  "model",
                  "tiny-observed",
                  "messages",
                  List.of(Map.of("role", "user", "content", "Hello")),
                  "stream",
                  true));
      assertThat(answer.statusCode()).isEqualTo(200);
      String requestId = answer.headers().firstValue("X-Request-Id").orElseThrow();

      // Logs: the worker that served it, newest first, its lines masked.
      var logs = platform.get("/api/v1/deployments/" + id + "/logs?tail=50");
      assertThat(logs.statusCode()).isEqualTo(200);
      var data = PlatformProcess.json(logs).path("data");
      assertThat(data.size()).isGreaterThanOrEqualTo(1);
      assertThat(data.get(0).path("worker_id").asText()).startsWith(id + "-w");
      assertThat(data.get(0).path("lines").size()).isGreaterThan(0);
      assertThat(logs.body()).doesNotContain(SECRET);

      // Usage: the request, with its time to first byte, once the batch is written.
      String usagePath =
          "/api/v1/deployments/"
              + id
              + "/usage?step=60&from="
              + before
              + "&to="
              + Instant.now().plusSeconds(60);
      await()
          .atMost(Duration.ofSeconds(20))
          .until(
              () ->
                  PlatformProcess.json(platform.get(usagePath))
                      .path("totals")
                      .path("requests")
                      .path("ok")
                      .asInt(),
              ok -> ok == 1);
      var totals = PlatformProcess.json(platform.get(usagePath)).path("totals");
      assertThat(totals.path("ttft_ms").path("p50").isNumber()).isTrue();
      assertThat(totals.path("latency_ms").path("p50").asLong())
          .isGreaterThanOrEqualTo(totals.path("ttft_ms").path("p50").asLong());
      assertThat(totals.path("cold_starts").asInt()).isGreaterThanOrEqualTo(1);
      assertThat(totals.path("worker_seconds").path("virtual").asDouble()).isGreaterThan(0);

      // Metrics: an admin key only.
      assertThat(platform.get("/actuator/prometheus", "gk_not_a_key").statusCode()).isEqualTo(401);
      var tenant = platform.post("/api/v1/api-keys", Map.of("tenant", "acme", "name", "m"));
      String tenantKey = PlatformProcess.json(tenant).path("key").asText();
      assertThat(platform.get("/actuator/prometheus", tenantKey).statusCode()).isEqualTo(403);
      var metrics = platform.get("/actuator/prometheus");
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.body())
          .contains(
              "gantry_deployment_requests_total{deployment=\"" + id + "\",outcome=\"ok\"} 1.0",
              "gantry_deployment_ttft_seconds_bucket{deployment=\"" + id + "\"",
              "gantry_deployment_latency_seconds_bucket{deployment=\"" + id + "\"",
              "gantry_deployment_requests_queued{deployment=\"" + id + "\"} 0.0",
              "gantry_workers{state=\"healthy\"}",
              "gantry_jobs{state=\"queued\"} 0.0",
              "gantry_model_download_bytes_total",
              "gantry_inference_requests_total")
          .doesNotContain(requestId)
          .doesNotContain(id + "-w");
    }
  }
}
