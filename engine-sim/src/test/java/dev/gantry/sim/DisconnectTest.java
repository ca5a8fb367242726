package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DisconnectTest {

  private static final String MODEL = "abort-model";
  private static final int MAX_TOKENS = 100_000;

  @Test
  void closingAStreamStopsGenerationAndFreesTheSlot() throws Exception {
    try (SimServer server = SimServer.start(SimConfig.defaults(MODEL).withTiming(5, 5))) {
      TestHttp http = new TestHttp(server);
      HttpResponse<InputStream> response =
          http.client()
              .send(
                  http.postRequest(
                      "/v1/chat/completions",
                      TestHttp.chatBody(MODEL, "a very long story", MAX_TOKENS, true)),
                  HttpResponse.BodyHandlers.ofInputStream());
      assertThat(response.statusCode()).isEqualTo(200);
      BufferedReader reader =
          new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8));
      int events = 0;
      while (events < 5) {
        String line = reader.readLine();
        assertThat(line).isNotNull();
        if (line.startsWith("data: {")) {
          events++;
        }
      }
      assertThat(server.runningRequests()).isEqualTo(1);

      reader.close(); // cancels the body, which closes the HTTP/1.1 connection

      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () -> {
                assertThat(server.requestsAbortedTotal()).isEqualTo(1);
                assertThat(server.runningRequests()).isZero();
              });
      long generated = server.generationTokensTotal();
      assertThat(generated).isGreaterThanOrEqualTo(4).isLessThan(MAX_TOKENS / 10);
      // generation has stopped: the counter holds still
      await()
          .during(Duration.ofMillis(200))
          .atMost(Duration.ofSeconds(2))
          .until(() -> server.generationTokensTotal() == generated);
      Map<String, Double> metrics = http.metrics();
      assertThat(metrics.get("gantry_sim:requests_aborted_total")).isEqualTo(1.0);
      assertThat(metrics.get("vllm:num_requests_running")).isZero();
      assertThat(metrics.get("vllm:request_success_total")).isZero();
    }
  }

  @Test
  void disconnectingDuringANonStreamingRequestAbortsIt() throws Exception {
    try (SimServer server = SimServer.start(SimConfig.defaults(MODEL).withTiming(5, 5))) {
      try (Socket socket = open(server, TestHttp.completionBody(MODEL, "x", MAX_TOKENS, false))) {
        await().atMost(Duration.ofSeconds(5)).until(() -> server.generationTokensTotal() >= 3);
      }

      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () -> {
                assertThat(server.requestsAbortedTotal()).isEqualTo(1);
                assertThat(server.runningRequests()).isZero();
              });
      long generated = server.generationTokensTotal();
      await()
          .during(Duration.ofMillis(200))
          .atMost(Duration.ofSeconds(2))
          .until(() -> server.generationTokensTotal() == generated);
      assertThat(server.requestSuccessTotal()).isZero();
    }
  }

  @Test
  void aWaitingRequestWhoseClientLeavesIsDequeued() throws Exception {
    try (SimServer server =
        SimServer.start(SimConfig.defaults(MODEL).withMaxConcurrency(1).withTiming(5, 5))) {
      TestHttp http = new TestHttp(server);
      try (Socket running =
          open(server, TestHttp.completionBody(MODEL, "first", MAX_TOKENS, true))) {
        await().atMost(Duration.ofSeconds(5)).until(() -> server.runningRequests() == 1);
        try (Socket waiting =
            open(server, TestHttp.completionBody(MODEL, "second", MAX_TOKENS, false))) {
          await().atMost(Duration.ofSeconds(5)).until(() -> server.waitingRequests() == 1);
        }

        await()
            .atMost(Duration.ofSeconds(5))
            .untilAsserted(
                () -> {
                  assertThat(server.waitingRequests()).isZero();
                  assertThat(server.requestsAbortedTotal()).isEqualTo(1);
                });
        assertThat(server.runningRequests()).isEqualTo(1);
        // the departed request was never admitted: only the running prompt was processed
        assertThat(http.metrics().get("vllm:prompt_tokens_total")).isEqualTo(1.0);
      }
      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(
              () -> {
                assertThat(server.runningRequests()).isZero();
                assertThat(server.requestsAbortedTotal()).isEqualTo(2);
              });
      assertThat(
              http.post("/v1/completions", TestHttp.completionBody(MODEL, "third", 2, false))
                  .statusCode())
          .isEqualTo(200);
    }
  }

  /** Sends a raw HTTP/1.1 POST to {@code /v1/completions} and returns the still-open socket. */
  private static Socket open(SimServer server, String json) throws Exception {
    Socket socket = new Socket("127.0.0.1", server.port());
    byte[] body = json.getBytes(StandardCharsets.UTF_8);
    String head =
        "POST /v1/completions HTTP/1.1\r\n"
            + "Host: 127.0.0.1\r\n"
            + "Content-Type: application/json\r\n"
            + "Content-Length: "
            + body.length
            + "\r\n\r\n";
    OutputStream out = socket.getOutputStream();
    out.write(head.getBytes(StandardCharsets.US_ASCII));
    out.write(body);
    out.flush();
    return socket;
  }
}
