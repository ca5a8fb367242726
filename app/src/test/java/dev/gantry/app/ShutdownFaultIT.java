package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code SIGTERM} to the platform while it runs engines and relays a stream: it exits within 30
 * seconds and leaves no engine process behind, also when a step of its stop hangs.
 */
@Timeout(240)
class ShutdownFaultIT {
  static final Duration EXIT_WITHIN = Duration.ofSeconds(30);

  PlatformProcess platform;

  @AfterEach
  void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  List<JsonNode> healthy(String dep) throws Exception {
    var body = PlatformProcess.json(platform.get("/api/v1/deployments/" + dep + "/workers"));
    return StreamSupport.stream(body.spliterator(), false)
        .filter(w -> w.get("status").asText().equals("healthy"))
        .toList();
  }

  @Test
  void sigtermWithEnginesAndAStreamInFlightExitsInTimeAndLeavesNoEngine() throws Exception {
    platform = new PlatformProcess("shutdown-it").start();
    sigtermWithAStreamInFlight(3);
  }

  @Test
  void aStopThatHangsIsCutShortByTheDeadline() throws Exception {
    // A drain longer than the deadline stands for any step of the stop that hangs.
    platform =
        new PlatformProcess("shutdown-hang-it", "--gantry.gateway.shutdown-drain=120s").start();
    sigtermWithAStreamInFlight(1);
  }

  void sigtermWithAStreamInFlight(int engines) throws Exception {
    var created =
        platform.post(
            "/api/v1/deployments",
            Map.of(
                "name",
                "shutdown",
                "model",
                "tiny-chat",
                "framework",
                "sim",
                "min_workers",
                engines,
                "max_workers",
                engines,
                "storage_gb",
                1,
                // A stream of 5000 tokens at 20 ms each: far longer than the shutdown may take.
                "framework_args",
                List.of("--inter-token-ms=20")));
    assertThat(created.statusCode()).isEqualTo(201);
    String dep = PlatformProcess.json(created).get("id").asText();
    await().atMost(Duration.ofSeconds(90)).until(() -> healthy(dep).size() == engines);
    assertThat(platform.enginePids()).hasSize(engines);

    var stream =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(
                        URI.create(
                            "http://127.0.0.1:"
                                + platform.port
                                + "/openai/"
                                + dep
                                + "/v1/chat/completions"))
                    .header("Authorization", "Bearer " + platform.key)
                    .header("Content-Type", "application/json")
                    .POST(
                        HttpRequest.BodyPublishers.ofString(
                            """
                            {"model":"tiny-chat","stream":true,"max_tokens":5000,
                             "messages":[{"role":"user","content":"a long story"}]}
                            """))
                    .build(),
                HttpResponse.BodyHandlers.ofInputStream());
    assertThat(stream.statusCode()).isEqualTo(200);
    InputStream events = stream.body();
    // The first event has arrived: the stream is in flight.
    assertThat(events.read(new byte[64])).isPositive();

    long start = System.nanoTime();
    boolean exited = platform.stop(EXIT_WITHIN);
    var took = Duration.ofNanos(System.nanoTime() - start);
    System.out.printf("platform exited %s after SIGTERM (%d ms)%n", exited, took.toMillis());

    assertThat(exited).as("exited within %s of SIGTERM (took %s)", EXIT_WITHIN, took).isTrue();
    assertThat(platform.enginesSeen()).hasSize(engines);
    assertThat(platform.enginesSeen())
        .as("engine processes left running")
        .noneMatch(pid -> ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false));
    events.close();
  }
}
