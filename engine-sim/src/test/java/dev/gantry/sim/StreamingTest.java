package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class StreamingTest {

  private static final String MODEL = "stream-model";
  private static SimServer server;
  private static TestHttp http;

  @BeforeAll
  static void start() {
    server = SimServer.start(SimConfig.defaults(MODEL).withTiming(5, 1));
    http = new TestHttp(server);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void chatStreamSendsChunksAndEndsWithDone() {
    HttpResponse<String> response =
        http.post("/v1/chat/completions", TestHttp.chatBody(MODEL, "stream this please", 8, true));

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("content-type").orElseThrow())
        .startsWith("text/event-stream");
    List<String> data = TestHttp.sseData(response.body());
    assertThat(data.getLast()).isEqualTo("[DONE]");
    List<JsonNode> chunks = data.subList(0, data.size() - 1).stream().map(TestHttp::json).toList();

    String id = chunks.getFirst().get("id").asText();
    assertThat(id).startsWith("chatcmpl-");
    for (JsonNode chunk : chunks) {
      assertThat(chunk.get("object").asText()).isEqualTo("chat.completion.chunk");
      assertThat(chunk.get("id").asText()).isEqualTo(id);
      assertThat(chunk.get("model").asText()).isEqualTo(MODEL);
      assertThat(chunk.has("usage")).isFalse();
    }
    // role chunk, 8 token chunks, finish chunk
    assertThat(chunks).hasSize(10);
    JsonNode roleDelta = chunks.getFirst().get("choices").get(0).get("delta");
    assertThat(roleDelta.get("role").asText()).isEqualTo("assistant");
    StringBuilder text = new StringBuilder();
    for (JsonNode chunk : chunks.subList(1, 9)) {
      JsonNode choice = chunk.get("choices").get(0);
      assertThat(choice.get("finish_reason").isNull()).isTrue();
      text.append(choice.get("delta").get("content").asText());
    }
    JsonNode last = chunks.getLast().get("choices").get(0);
    assertThat(last.get("finish_reason").asText()).isEqualTo("length");
    assertThat(last.get("delta").isEmpty()).isTrue();
    assertThat(text.toString().split(" ")).hasSize(8);

    JsonNode nonStreamed =
        TestHttp.json(
            http.post(
                "/v1/chat/completions", TestHttp.chatBody(MODEL, "stream this please", 8, false)));
    assertThat(nonStreamed.get("choices").get(0).get("message").get("content").asText())
        .isEqualTo(text.toString());
  }

  @Test
  void includeUsageAddsAFinalUsageChunk() {
    String request =
        TestHttp.write(
            Map.of(
                "model",
                MODEL,
                "messages",
                List.of(Map.of("role", "user", "content", "count the usage")),
                "max_tokens",
                5,
                "stream",
                true,
                "stream_options",
                Map.of("include_usage", true)));
    List<String> data = TestHttp.sseData(http.post("/v1/chat/completions", request).body());

    assertThat(data.getLast()).isEqualTo("[DONE]");
    JsonNode usageChunk = TestHttp.json(data.get(data.size() - 2));
    assertThat(usageChunk.get("choices")).isEmpty();
    assertThat(usageChunk.get("usage").get("prompt_tokens").asInt()).isEqualTo(3);
    assertThat(usageChunk.get("usage").get("completion_tokens").asInt()).isEqualTo(5);
    assertThat(usageChunk.get("usage").get("total_tokens").asInt()).isEqualTo(8);
    // the other chunks carry "usage": null, as OpenAI's
    JsonNode tokenChunk = TestHttp.json(data.get(1));
    assertThat(tokenChunk.get("usage").isNull()).isTrue();
  }

  @Test
  void completionStreamSendsTextChunks() {
    String request =
        TestHttp.write(
            Map.of(
                "model",
                MODEL,
                "prompt",
                "a text prompt",
                "max_tokens",
                6,
                "stream",
                true,
                "stream_options",
                Map.of("include_usage", true)));
    List<String> data = TestHttp.sseData(http.post("/v1/completions", request).body());

    assertThat(data.getLast()).isEqualTo("[DONE]");
    List<JsonNode> chunks = data.subList(0, data.size() - 1).stream().map(TestHttp::json).toList();
    // 6 token chunks, finish chunk, usage chunk
    assertThat(chunks).hasSize(8);
    StringBuilder text = new StringBuilder();
    for (JsonNode chunk : chunks.subList(0, 6)) {
      assertThat(chunk.get("object").asText()).isEqualTo("text_completion");
      text.append(chunk.get("choices").get(0).get("text").asText());
    }
    assertThat(chunks.get(6).get("choices").get(0).get("finish_reason").asText())
        .isEqualTo("length");
    assertThat(chunks.get(7).get("usage").get("completion_tokens").asInt()).isEqualTo(6);

    JsonNode nonStreamed =
        TestHttp.json(
            http.post(
                "/v1/completions", TestHttp.completionBody(MODEL, "a text prompt", 6, false)));
    assertThat(nonStreamed.get("choices").get(0).get("text").asText()).isEqualTo(text.toString());
  }

  @Test
  void eventsAreFlushedAsTheyAreGenerated() throws Exception {
    try (SimServer slow = SimServer.start(SimConfig.defaults(MODEL).withTiming(10, 100))) {
      TestHttp client = new TestHttp(slow);
      HttpResponse<InputStream> response =
          client
              .client()
              .send(
                  client.postRequest(
                      "/v1/completions", TestHttp.completionBody(MODEL, "slow", 10, true)),
                  HttpResponse.BodyHandlers.ofInputStream());
      try (BufferedReader reader =
          new BufferedReader(new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
        String first = reader.readLine();
        assertThat(first).startsWith("data: {");
        // The first event arrived while the other 9 tokens (900 ms) are still to come.
        assertThat(slow.generationTokensTotal()).isLessThan(10);
        String line;
        int events = 1;
        while ((line = reader.readLine()) != null) {
          if (line.startsWith("data: ")) {
            events++;
          }
        }
        assertThat(events).isEqualTo(12); // 10 tokens, finish chunk, [DONE]
      }
    }
  }
}
