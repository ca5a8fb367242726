package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CompletionsTest {

  private static final String MODEL = "sim-model";
  private static SimServer server;
  private static TestHttp http;

  @BeforeAll
  static void start() {
    server = SimServer.start(SimConfig.defaults(MODEL).withTiming(5, 1).withMaxTokensDefault(12));
    http = new TestHttp(server);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void chatCompletionHasOpenAiShapeAndHonoursMaxTokens() {
    HttpResponse<String> response =
        http.post("/v1/chat/completions", TestHttp.chatBody(MODEL, "tell me a story", 7, false));

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
    JsonNode body = TestHttp.json(response);
    assertThat(body.get("id").asText()).startsWith("chatcmpl-");
    assertThat(body.get("object").asText()).isEqualTo("chat.completion");
    assertThat(body.get("model").asText()).isEqualTo(MODEL);
    assertThat(body.get("created").asLong()).isPositive();
    JsonNode choice = body.get("choices").get(0);
    assertThat(body.get("choices")).hasSize(1);
    assertThat(choice.get("index").asInt()).isZero();
    assertThat(choice.get("message").get("role").asText()).isEqualTo("assistant");
    String content = choice.get("message").get("content").asText();
    assertThat(content.split(" ")).hasSize(7);
    assertThat(choice.get("finish_reason").asText()).isEqualTo("length");
    JsonNode usage = body.get("usage");
    assertThat(usage.get("prompt_tokens").asInt()).isEqualTo(4);
    assertThat(usage.get("completion_tokens").asInt()).isEqualTo(7);
    assertThat(usage.get("total_tokens").asInt()).isEqualTo(11);
  }

  @Test
  void textCompletionHasOpenAiShape() {
    HttpResponse<String> response =
        http.post("/v1/completions", TestHttp.completionBody(MODEL, "once upon a time", 5, false));

    assertThat(response.statusCode()).isEqualTo(200);
    JsonNode body = TestHttp.json(response);
    assertThat(body.get("id").asText()).startsWith("cmpl-");
    assertThat(body.get("object").asText()).isEqualTo("text_completion");
    assertThat(body.get("model").asText()).isEqualTo(MODEL);
    JsonNode choice = body.get("choices").get(0);
    assertThat(choice.get("text").asText().split(" ")).hasSize(5);
    assertThat(choice.get("finish_reason").asText()).isEqualTo("length");
    assertThat(body.get("usage").get("prompt_tokens").asInt()).isEqualTo(4);
    assertThat(body.get("usage").get("completion_tokens").asInt()).isEqualTo(5);
    assertThat(body.get("usage").get("total_tokens").asInt()).isEqualTo(9);
  }

  @Test
  void withoutMaxTokensTheDefaultLengthEndsWithStop() {
    JsonNode body =
        TestHttp.json(
            http.post("/v1/completions", TestHttp.completionBody(MODEL, "hi", null, false)));

    assertThat(body.get("choices").get(0).get("text").asText().split(" ")).hasSize(12);
    assertThat(body.get("choices").get(0).get("finish_reason").asText()).isEqualTo("stop");
    assertThat(body.get("usage").get("prompt_tokens").asInt()).isEqualTo(1);
  }

  @Test
  void maxCompletionTokensIsHonouredForChat() {
    String request =
        TestHttp.write(
            Map.of(
                "model",
                MODEL,
                "messages",
                java.util.List.of(Map.of("role", "user", "content", "hello")),
                "max_completion_tokens",
                3));
    JsonNode body = TestHttp.json(http.post("/v1/chat/completions", request));

    assertThat(body.get("usage").get("completion_tokens").asInt()).isEqualTo(3);
    assertThat(body.get("choices").get(0).get("message").get("content").asText().split(" "))
        .hasSize(3);
  }

  @Test
  void outputIsDeterministicPerPrompt() {
    String first = chatText("what is the capital of france", 10);
    String again = chatText("what is the capital of france", 10);
    String other = chatText("what is the capital of spain", 10);
    String shorter = chatText("what is the capital of france", 4);

    assertThat(again).isEqualTo(first);
    assertThat(other).isNotEqualTo(first);
    assertThat(first).startsWith(shorter);
    assertThat(completionText("what is the capital of france", 10)).isEqualTo(first);
  }

  @Test
  void requestsAreCountedInMetrics() {
    Map<String, Double> before = http.metrics();
    completionText("count me in please", 6);

    // The success is recorded once the response is flushed, which may trail its receipt a bit.
    await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () -> {
              Map<String, Double> after = http.metrics();
              assertThat(
                      after.get("vllm:request_success_total")
                          - before.get("vllm:request_success_total"))
                  .isEqualTo(1.0);
              assertThat(
                      after.get("vllm:generation_tokens_total")
                          - before.get("vllm:generation_tokens_total"))
                  .isEqualTo(6.0);
              assertThat(
                      after.get("vllm:prompt_tokens_total")
                          - before.get("vllm:prompt_tokens_total"))
                  .isEqualTo(4.0);
            });
  }

  @Test
  void nonStreamingResponseTakesTheGenerationTime() {
    try (SimServer slow = SimServer.start(SimConfig.defaults(MODEL).withTiming(100, 20))) {
      TestHttp client = new TestHttp(slow);
      long begin = System.nanoTime();
      HttpResponse<String> response =
          client.post("/v1/completions", TestHttp.completionBody(MODEL, "x", 6, false));
      long elapsedMs = (System.nanoTime() - begin) / 1_000_000;

      assertThat(response.statusCode()).isEqualTo(200);
      // ttft + 5 inter-token gaps = 200 ms
      assertThat(elapsedMs).isGreaterThanOrEqualTo(200);
    }
  }

  private String chatText(String prompt, int maxTokens) {
    HttpResponse<String> response =
        http.post("/v1/chat/completions", TestHttp.chatBody(MODEL, prompt, maxTokens, false));
    assertThat(response.statusCode()).isEqualTo(200);
    return TestHttp.json(response).get("choices").get(0).get("message").get("content").asText();
  }

  private String completionText(String prompt, int maxTokens) {
    HttpResponse<String> response =
        http.post("/v1/completions", TestHttp.completionBody(MODEL, prompt, maxTokens, false));
    assertThat(response.statusCode()).isEqualTo(200);
    return TestHttp.json(response).get("choices").get(0).get("text").asText();
  }
}
