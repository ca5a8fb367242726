package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class HealthTest {

  private static final String MODEL = "loading-model";

  @Test
  void healthIs503WhileLoadingThen200() {
    try (SimServer server =
        SimServer.start(SimConfig.defaults(MODEL).withStartupSeconds(1.0).withTiming(1, 1))) {
      TestHttp http = new TestHttp(server);

      assertThat(http.get("/health").statusCode()).isEqualTo(503);
      assertThat(server.isReady()).isFalse();
      HttpResponse<String> chat =
          http.post("/v1/chat/completions", TestHttp.chatBody(MODEL, "hi", 2, false));
      assertThat(chat.statusCode()).isEqualTo(503);
      JsonNode error = TestHttp.json(chat).get("error");
      assertThat(error.get("code").asInt()).isEqualTo(503);
      assertThat(error.get("message").asText()).contains("loading");
      assertThat(http.post("/v1/embeddings", "{\"input\":\"x\"}").statusCode()).isEqualTo(503);
      assertThat(http.get("/metrics").statusCode()).isEqualTo(200);

      await()
          .atMost(Duration.ofSeconds(5))
          .pollInterval(Duration.ofMillis(50))
          .until(() -> http.get("/health").statusCode() == 200);
      assertThat(server.isReady()).isTrue();
      assertThat(
              http.post("/v1/chat/completions", TestHttp.chatBody(MODEL, "hi", 2, false))
                  .statusCode())
          .isEqualTo(200);
    }
  }

  @Test
  void itIsReadyOnlyOnceWarmedUpAfterListening() {
    try (SimServer server = SimServer.start(SimConfig.defaults(MODEL).withTiming(1, 1))) {
      // start() returns after its warm-up request: ready at once without a simulated load, and
      // what it reports as its ready instant is neither before it listened nor in the future.
      assertThat(server.isReady()).isTrue();
      assertThat(server.readyAt())
          .isAfter(server.listeningAt())
          .isBeforeOrEqualTo(java.time.Instant.now());
    }
  }

  @Test
  void healthIsImmediatelyOkWithoutStartupDelay() {
    try (SimServer server = SimServer.start(SimConfig.defaults(MODEL))) {
      assertThat(new TestHttp(server).get("/health").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void modelsListsTheServedModel() {
    try (SimServer server = SimServer.start(SimConfig.defaults(MODEL))) {
      HttpResponse<String> response = new TestHttp(server).get("/v1/models");

      assertThat(response.statusCode()).isEqualTo(200);
      JsonNode body = TestHttp.json(response);
      assertThat(body.get("object").asText()).isEqualTo("list");
      assertThat(body.get("data")).hasSize(1);
      JsonNode model = body.get("data").get(0);
      assertThat(model.get("id").asText()).isEqualTo(MODEL);
      assertThat(model.get("object").asText()).isEqualTo("model");
      assertThat(model.get("owned_by").asText()).isEqualTo("gantry-sim");
      assertThat(model.get("created").asLong()).isPositive();
    }
  }

  @Test
  void closeFreesThePort() throws Exception {
    SimServer server = SimServer.start(SimConfig.defaults(MODEL));
    int port = server.port();
    server.close();

    try (SimServer again = SimServer.start(SimConfig.defaults(MODEL).withPort(port))) {
      assertThat(again.port()).isEqualTo(port);
      assertThat(new TestHttp(again).get("/health").statusCode()).isEqualTo(200);
    }
  }

  @Test
  void startFailsClearlyWhenThePortIsTaken() {
    try (SimServer server = SimServer.start(SimConfig.defaults(MODEL))) {
      org.assertj.core.api.Assertions.assertThatThrownBy(
              () -> SimServer.start(SimConfig.defaults(MODEL).withPort(server.port())))
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("could not listen on 127.0.0.1:" + server.port());
    }
  }
}
