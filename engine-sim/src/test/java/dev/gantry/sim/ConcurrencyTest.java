package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class ConcurrencyTest {

  private static final String MODEL = "busy-model";

  @Test
  void requestsBeyondTheLimitWaitThenRun() {
    try (SimServer server =
        SimServer.start(SimConfig.defaults(MODEL).withMaxConcurrency(2).withTiming(20, 10))) {
      TestHttp http = new TestHttp(server);
      List<CompletableFuture<HttpResponse<String>>> responses = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        // ~20 + 24 * 10 = 260 ms each, so three waves of two
        responses.add(
            http.postAsync(
                "/v1/chat/completions", TestHttp.chatBody(MODEL, "request " + i, 25, i % 2 == 0)));
      }

      List<Map<String, Double>> scrapes = new CopyOnWriteArrayList<>();
      await()
          .atMost(Duration.ofSeconds(10))
          .pollInterval(Duration.ofMillis(15))
          .until(
              () -> {
                scrapes.add(http.metrics());
                return responses.stream().allMatch(CompletableFuture::isDone);
              });

      assertThat(scrapes)
          .allSatisfy(m -> assertThat(m.get("vllm:num_requests_running")).isLessThanOrEqualTo(2));
      assertThat(scrapes)
          .anySatisfy(m -> assertThat(m.get("vllm:num_requests_waiting")).isPositive());
      assertThat(scrapes)
          .anySatisfy(m -> assertThat(m.get("vllm:num_requests_running")).isEqualTo(2.0));
      for (CompletableFuture<HttpResponse<String>> response : responses) {
        assertThat(response.join().statusCode()).isEqualTo(200);
        assertThat(response.join().body()).doesNotContain("\"error\"");
      }
      await()
          .atMost(Duration.ofSeconds(5))
          .untilAsserted(() -> assertThat(server.requestSuccessTotal()).isEqualTo(6));
      Map<String, Double> end = http.metrics();
      assertThat(end.get("gantry_sim:max_running")).isEqualTo(2.0);
      assertThat(end.get("vllm:num_requests_running")).isZero();
      assertThat(end.get("vllm:num_requests_waiting")).isZero();
      assertThat(end.get("vllm:generation_tokens_total")).isEqualTo(150.0);
      assertThat(server.maxRunning()).isEqualTo(2);
    }
  }
}
