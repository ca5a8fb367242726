package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.db.EmbeddedDatabase;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Cluster mode on one box: an orchestrator process (with the embedded Temporal server) and two
 * gateway processes on one shared database, all routing to one {@code sim} worker. Alone, a gateway
 * uses every slot of the worker; with a second gateway pushing too, the worker never holds more
 * than its {@code concurrency} requests at once (the sim's own high-water mark, {@code
 * gantry_sim:max_in_flight}, counts what it was sent, running or waiting).
 */
@Timeout(240)
class GatewayReplicasIT {
  static final int CONCURRENCY = 4;

  @Test
  void twoGatewaysNeverSendOneWorkerMoreThanItsConcurrency() throws Exception {
    var db = Files.createTempDirectory("gantry-it-cluster-db-");
    String url =
        "jdbc:h2:file:"
            + db.resolve("gantry")
            + EmbeddedDatabase.POSTGRES_COMPATIBILITY
            + ";AUTO_SERVER=TRUE;USER=sa";
    byte[] secret = new byte[32];
    new SecureRandom().nextBytes(secret);
    String key = ApiKeys.newKey();
    List<String> shared =
        List.of(
            "--spring.datasource.url=" + url,
            "--gantry.secrets.key=" + Base64.getEncoder().encodeToString(secret));

    try (var orchestrator =
            process("cluster-orchestrator", key, shared, "--gantry.roles=orchestrator")
                .startWithoutGateway();
        var first =
            process(
                    "cluster-gateway-1",
                    key,
                    shared,
                    "--gantry.roles=gateway",
                    "--gantry.temporal.target=127.0.0.1:" + orchestrator.temporalPort)
                .start()) {
      var created =
          first.post(
              "/api/v1/deployments",
              Map.of(
                  "name",
                  "shared-worker",
                  "model",
                  "tiny-chat",
                  "framework",
                  "sim",
                  "min_workers",
                  1,
                  "max_workers",
                  1,
                  "concurrency",
                  CONCURRENCY,
                  "wait_time_seconds",
                  120,
                  "framework_args",
                  List.of("--inter-token-ms=50")));
      assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
      String dep = PlatformProcess.json(created).get("id").asText();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  StreamSupport.stream(
                          PlatformProcess.json(first.get("/api/v1/deployments/" + dep + "/workers"))
                              .spliterator(),
                          false)
                      .anyMatch(w -> w.get("status").asText().equals("healthy")));
      long engine = orchestrator.enginePids().getFirst();

      // Alone, the gateway uses every slot of the worker.
      assertThat(burst(List.of(first), dep, 2 * CONCURRENCY)).allMatch(s -> s == 200);
      assertThat(maxInFlight(engine)).isEqualTo(CONCURRENCY);

      try (var second =
          process(
                  "cluster-gateway-2",
                  key,
                  shared,
                  "--gantry.roles=gateway",
                  "--gantry.temporal.target=127.0.0.1:" + orchestrator.temporalPort)
              .start()) {
        // Both push twice the worker's concurrency each; every request is served in the end.
        assertThat(burst(List.of(first, second), dep, 2 * CONCURRENCY)).allMatch(s -> s == 200);
        assertThat(maxInFlight(engine))
            .as("requests the worker held at once, from both gateways")
            .isLessThanOrEqualTo(CONCURRENCY);
      }
    }
  }

  static PlatformProcess process(String name, String key, List<String> shared, String... settings)
      throws Exception {
    var all = new ArrayList<>(shared);
    all.addAll(List.of(settings));
    return new PlatformProcess(name, all.toArray(String[]::new)).withApiKey(key);
  }

  static int maxInFlight(long engine) throws Exception {
    return (int)
        PlatformProcess.counter(PlatformProcess.engineMetrics(engine), "gantry_sim:max_in_flight");
  }

  /** {@code perGateway} chats sent at once through each gateway; their statuses. */
  static List<Integer> burst(List<PlatformProcess> gateways, String dep, int perGateway)
      throws Exception {
    var calls = new ArrayList<CompletableFuture<Integer>>();
    for (var gateway : gateways) {
      for (int i = 0; i < perGateway; i++) {
        calls.add(
            CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return chat(gateway, dep).statusCode();
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                }));
      }
    }
    var statuses = new ArrayList<Integer>();
    for (var call : calls) {
      statuses.add(call.get());
    }
    return statuses;
  }

  static HttpResponse<String> chat(PlatformProcess gateway, String dep) throws Exception {
    var body =
        Map.of(
            "model",
            "tiny-chat",
            "messages",
            List.of(Map.of("role", "user", "content", "Share the worker")),
            "max_tokens",
            20);
    var request =
        HttpRequest.newBuilder(
                URI.create(
                    "http://127.0.0.1:" + gateway.port + "/openai/" + dep + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(120))
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(PlatformProcess.JSON.writeValueAsString(body)));
    return PlatformProcess.send(request, gateway.key);
  }
}
