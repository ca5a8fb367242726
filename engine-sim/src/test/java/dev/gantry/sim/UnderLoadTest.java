package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The throughput model and the running batch over HTTP, paced by a {@link ManualClock}: time moves
 * only when the test says, so every deadline is checked to the millisecond, on any machine. A test
 * starts requests, waits until the server has admitted or queued them (which stamps their place on
 * the frozen clock), then advances time and checks that nothing came early and the due things came.
 */
@Timeout(60)
class UnderLoadTest {

  private static final String MODEL = "load-model";
  private static final Duration AWAIT = Duration.ofSeconds(10);

  private final ManualClock clock = new ManualClock();

  @Test
  void prefillTimeGrowsWithThePrompt() {
    // ttft 5 ms plus 1000 ms per 1000 prompt tokens: 1 ms more per word of the prompt
    SimConfig config = SimConfig.defaults(MODEL).withTiming(5, 10).withThroughput(1000, 0);
    try (SimServer server = start(config)) {
      TestHttp http = new TestHttp(server);
      CompletableFuture<HttpResponse<String>> one = complete(http, words(1), 1);
      CompletableFuture<HttpResponse<String>> quarter = complete(http, words(250), 1);
      CompletableFuture<HttpResponse<String>> half = complete(http, words(500), 1);
      await().atMost(AWAIT).until(() -> server.runningRequests() == 3);

      advance(5); // --ttft-ms alone: not enough for any prompt
      assertThat(server.generationTokensTotal()).isZero();
      advance(1);
      await().atMost(AWAIT).until(() -> server.generationTokensTotal() == 1);
      assertOk(one);
      advance(248);
      assertThat(server.generationTokensTotal()).isEqualTo(1);
      advance(1);
      await().atMost(AWAIT).until(() -> server.generationTokensTotal() == 2);
      assertOk(quarter);
      advance(249);
      assertThat(server.generationTokensTotal()).isEqualTo(2);
      assertThat(half).isNotDone();
      advance(1);
      assertOk(half);
      assertThat(TestHttp.json(half.join()).get("usage").get("prompt_tokens").asInt())
          .isEqualTo(500);
    }
  }

  @Test
  void prefillTimeAlsoDelaysEmbeddings() {
    SimConfig config = SimConfig.defaults(MODEL).withTiming(5, 10).withThroughput(1000, 0);
    try (SimServer server = start(config)) {
      TestHttp http = new TestHttp(server);
      CompletableFuture<HttpResponse<String>> embedding =
          http.postAsync(
              "/v1/embeddings",
              TestHttp.write(Map.of("model", MODEL, "input", List.of(words(60), words(40)))));
      await().atMost(AWAIT).until(() -> server.runningRequests() == 1);

      advance(104); // ttft 5 ms + 100 prompt tokens at 1 ms
      assertThat(embedding).isNotDone();
      assertThat(server.runningRequests()).isEqualTo(1);
      advance(1);
      assertOk(embedding);
    }
  }

  @Test
  void decodeSlowsAsTheBatchGrows() {
    // max-concurrency 3 and slowdown 2: a token takes 10 ms alone, 20 ms in a batch of two, 30 ms
    // in a full batch
    SimConfig config =
        SimConfig.defaults(MODEL).withTiming(50, 10).withMaxConcurrency(3).withThroughput(0, 2);
    try (SimServer server = start(config)) {
      TestHttp http = new TestHttp(server);
      List<CompletableFuture<HttpResponse<String>>> batch = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        batch.add(complete(http, "batch member " + i, 3));
      }
      await().atMost(AWAIT).until(() -> server.runningRequests() == 3);

      advance(50);
      await().atMost(AWAIT).until(() -> server.generationTokensTotal() == 3);
      advance(29); // a lone request would have its second token at 60 ms
      assertThat(server.generationTokensTotal()).isEqualTo(3);
      advance(1);
      await().atMost(AWAIT).until(() -> server.generationTokensTotal() == 6);
      advance(29);
      assertThat(server.generationTokensTotal()).isEqualTo(6);
      advance(1);
      batch.forEach(UnderLoadTest::assertOk);
      await().atMost(AWAIT).until(() -> server.runningRequests() == 0);

      // The same server, one request: back to 10 ms per token.
      CompletableFuture<HttpResponse<String>> alone = complete(http, "alone", 3);
      await().atMost(AWAIT).until(() -> server.runningRequests() == 1);
      advance(50);
      await().atMost(AWAIT).until(() -> server.generationTokensTotal() == 10);
      advance(10);
      await().atMost(AWAIT).until(() -> server.generationTokensTotal() == 11);
      advance(10);
      assertOk(alone);
    }
  }

  @Test
  void requestsBeyondMaxConcurrencyWaitInTheEngineAndAreServedInArrivalOrder() {
    // each request: first token 10 ms after admission, second 10 ms later, then done
    SimConfig config = SimConfig.defaults(MODEL).withTiming(10, 10).withMaxConcurrency(1);
    try (SimServer server = start(config)) {
      TestHttp http = new TestHttp(server);
      List<String> finished = Collections.synchronizedList(new ArrayList<>());
      List<CompletableFuture<HttpResponse<String>>> requests = new ArrayList<>();
      for (String name : List.of("a", "b", "c")) {
        CompletableFuture<HttpResponse<String>> request = complete(http, name, 2);
        request.thenRun(() -> finished.add(name));
        requests.add(request);
        // one at a time, so that the arrival order is known
        int arrived = requests.size();
        await()
            .atMost(AWAIT)
            .until(() -> server.runningRequests() + server.waitingRequests() == arrived);
      }
      Map<String, Double> queued = http.metrics();
      assertThat(queued.get("vllm:num_requests_running")).isEqualTo(1.0);
      assertThat(queued.get("vllm:num_requests_waiting")).isEqualTo(2.0);

      advance(20);
      await().atMost(AWAIT).untilAsserted(() -> assertThat(finished).containsExactly("a"));
      await().atMost(AWAIT).until(() -> server.waitingRequests() == 1);
      // b was admitted at 20 ms: its wait is part of its time to first token (30 ms)
      advance(9);
      assertThat(server.generationTokensTotal()).isEqualTo(2);
      advance(1);
      await().atMost(AWAIT).until(() -> server.generationTokensTotal() == 3);
      advance(10);
      await().atMost(AWAIT).untilAsserted(() -> assertThat(finished).containsExactly("a", "b"));
      await().atMost(AWAIT).until(() -> server.waitingRequests() == 0);
      assertThat(requests.get(2)).isNotDone();
      advance(20);
      await()
          .atMost(AWAIT)
          .untilAsserted(() -> assertThat(finished).containsExactly("a", "b", "c"));
      requests.forEach(UnderLoadTest::assertOk);
      Map<String, Double> idle = http.metrics();
      assertThat(idle.get("vllm:num_requests_running")).isZero();
      assertThat(idle.get("vllm:num_requests_waiting")).isZero();
      assertThat(idle.get("gantry_sim:max_running")).isEqualTo(1.0);
    }
  }

  @Test
  void aWaitingClientThatLeavesGivesUpItsPlaceInLine() throws Exception {
    SimConfig config = SimConfig.defaults(MODEL).withTiming(10, 10).withMaxConcurrency(1);
    try (SimServer server = start(config)) {
      TestHttp http = new TestHttp(server);
      CompletableFuture<HttpResponse<String>> first = complete(http, "first", 2);
      await().atMost(AWAIT).until(() -> server.runningRequests() == 1);
      CompletableFuture<HttpResponse<String>> last;
      try (Socket leaving = openCompletion(server, "leaving")) {
        await().atMost(AWAIT).until(() -> server.waitingRequests() == 1);
        last = complete(http, "last", 2);
        await().atMost(AWAIT).until(() -> server.waitingRequests() == 2);
      }
      await().atMost(AWAIT).untilAsserted(() -> assertThat(server.waitingRequests()).isEqualTo(1));
      assertThat(server.requestsAbortedTotal()).isEqualTo(1);

      advance(20);
      assertOk(first);
      // the slot went straight to the last request: done 20 ms after the first one
      await().atMost(AWAIT).until(() -> server.waitingRequests() == 0);
      assertThat(server.runningRequests()).isEqualTo(1);
      advance(20);
      assertOk(last);
      // a success is counted once its response is flushed, which may trail its receipt
      await().atMost(AWAIT).until(() -> server.requestSuccessTotal() == 2);
      // the one that left was never admitted, so its prompt was never processed
      assertThat(server.promptTokensTotal()).isEqualTo(2);
    }
  }

  @Test
  void onTheRealClockALongPromptTakesItsPrefillTime() {
    // The server's own timer, through the CLI's flags: 300 prompt tokens at 1 ms each.
    SimConfig config =
        SimConfig.parse(
            new String[] {
              "--port=0",
              "--model=" + MODEL,
              "--ttft-ms=0",
              "--inter-token-ms=0",
              "--prefill-ms-per-1k-tokens=1000",
              "--decode-slowdown=4"
            });
    try (SimServer server = SimServer.start(config)) {
      TestHttp http = new TestHttp(server);
      long begin = System.nanoTime();
      HttpResponse<String> response =
          http.post("/v1/completions", TestHttp.completionBody(MODEL, words(300), 2, false));
      long elapsedMs = (System.nanoTime() - begin) / 1_000_000;

      assertThat(response.statusCode()).isEqualTo(200);
      // Timers never fire early, so this lower bound holds on any machine.
      assertThat(elapsedMs).isGreaterThanOrEqualTo(300);
    }
  }

  private SimServer start(SimConfig config) {
    return SimServer.start(
        config,
        status -> {
          throw new AssertionError("unexpected exit " + status);
        },
        clock);
  }

  private void advance(long millis) {
    clock.advance(Duration.ofMillis(millis));
  }

  private static CompletableFuture<HttpResponse<String>> complete(
      TestHttp http, String prompt, int maxTokens) {
    return http.postAsync(
        "/v1/completions", TestHttp.completionBody(MODEL, prompt, maxTokens, false));
  }

  private static void assertOk(CompletableFuture<HttpResponse<String>> response) {
    await().atMost(AWAIT).until(response::isDone);
    HttpResponse<String> done = response.join();
    assertThat(done.statusCode()).as(done.body()).isEqualTo(200);
  }

  private static String words(int count) {
    return String.join(" ", Collections.nCopies(count, "word"));
  }

  /** A raw HTTP/1.1 completion request, streamed, whose client leaves when the socket closes. */
  private static Socket openCompletion(SimServer server, String prompt) throws Exception {
    Socket socket = new Socket("127.0.0.1", server.port());
    byte[] body =
        TestHttp.completionBody(MODEL, prompt, 1000, true).getBytes(StandardCharsets.UTF_8);
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
