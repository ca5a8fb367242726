package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

class FailAfterRequestsTest {

  private static final String MODEL = "fragile-model";

  @Test
  void exitsWithNonZeroStatusAfterTheNthCompletedRequest() {
    List<Integer> exits = new CopyOnWriteArrayList<>();
    try (SimServer server =
        SimServer.start(
            SimConfig.defaults(MODEL).withTiming(1, 1).withFailAfterRequests(3), exits::add)) {
      TestHttp http = new TestHttp(server);

      assertThat(
              http.post("/v1/completions", TestHttp.completionBody(MODEL, "one", 3, false))
                  .statusCode())
          .isEqualTo(200);
      // errors do not count as completed requests
      assertThat(http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":0}").statusCode())
          .isEqualTo(400);
      assertThat(
              http.post("/v1/chat/completions", TestHttp.chatBody(MODEL, "two", 3, true))
                  .statusCode())
          .isEqualTo(200);
      await().atMost(Duration.ofSeconds(5)).until(() -> server.requestSuccessTotal() == 2);
      assertThat(exits).isEmpty();

      HttpResponse<String> third =
          http.post("/v1/chat/completions", TestHttp.chatBody(MODEL, "three", 3, true));
      assertThat(third.statusCode()).isEqualTo(200);
      assertThat(third.body()).endsWith("data: [DONE]\n\n"); // the Nth response is complete

      await().atMost(Duration.ofSeconds(5)).until(() -> !exits.isEmpty());
      assertThat(exits).containsExactly(SimServer.FAILURE_EXIT_CODE);
      // a dying engine takes no more work
      assertThat(http.get("/health").statusCode()).isEqualTo(503);
      assertThat(
              http.post("/v1/completions", TestHttp.completionBody(MODEL, "four", 3, false))
                  .statusCode())
          .isEqualTo(503);
      assertThat(exits).hasSize(1);
    }
  }

  @Test
  void neverExitsWhenDisabled() {
    List<Integer> exits = new CopyOnWriteArrayList<>();
    try (SimServer server =
        SimServer.start(SimConfig.defaults(MODEL).withTiming(1, 1), exits::add)) {
      TestHttp http = new TestHttp(server);
      for (int i = 0; i < 5; i++) {
        assertThat(
                http.post("/v1/completions", TestHttp.completionBody(MODEL, "n" + i, 2, false))
                    .statusCode())
            .isEqualTo(200);
      }
      await().atMost(Duration.ofSeconds(5)).until(() -> server.requestSuccessTotal() == 5);
      assertThat(exits).isEmpty();
      assertThat(http.get("/health").statusCode()).isEqualTo(200);
    }
  }
}
