package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ErrorsTest {

  private static final String MODEL = "served";
  private static SimServer server;
  private static TestHttp http;

  @BeforeAll
  static void start() {
    server = SimServer.start(SimConfig.defaults(MODEL).withTiming(1, 1));
    http = new TestHttp(server);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @ParameterizedTest
  @ValueSource(strings = {"/v1/chat/completions", "/v1/completions", "/v1/embeddings"})
  void unknownModelIsVllmStyle404(String path) {
    String body =
        "{\"model\":\"other-model\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
            + "\"prompt\":\"x\",\"input\":\"x\"}";
    HttpResponse<String> response = http.post(path, body);

    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.headers().firstValue("content-type")).hasValue("application/json");
    JsonNode error = TestHttp.json(response).get("error");
    assertThat(error.get("message").asText()).isEqualTo("The model `other-model` does not exist.");
    assertThat(error.get("type").asText()).isEqualTo("NotFoundError");
    assertThat(error.get("param").asText()).isEqualTo("model");
    assertThat(error.get("code").asInt()).isEqualTo(404);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"model\":\"served\",",
        "",
        "[1,2]",
        "{\"model\":\"served\"}",
        "{\"messages\":[]}",
        "{\"messages\":\"hello\"}",
        "{\"messages\":[{\"content\":\"no role\"}]}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":\"ten\"}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":\"yes\"}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
            + "\"stream_options\":{\"include_usage\":true}}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"n\":2}"
      })
  void badChatRequestsAre400(String body) {
    assertBadRequest(http.post("/v1/chat/completions", body));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "not json",
        "{\"model\":\"served\"}",
        "{\"prompt\":\"x\",\"max_tokens\":-3}",
        "{\"prompt\":{\"text\":\"x\"}}",
        "{\"prompt\":[\"a\",\"b\"]}"
      })
  void badCompletionRequestsAre400(String body) {
    assertBadRequest(http.post("/v1/completions", body));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{}",
        "{\"input\":[]}",
        "{\"input\":42}",
        "{\"input\":\"x\",\"encoding_format\":\"hex\"}",
        "{\"input\":\"x\",\"dimensions\":100000}"
      })
  void badEmbeddingRequestsAre400(String body) {
    assertBadRequest(http.post("/v1/embeddings", body));
  }

  @Test
  void maxTokensErrorSaysWhatIsWrong() {
    HttpResponse<String> response =
        http.post("/v1/completions", "{\"model\":\"served\",\"prompt\":\"x\",\"max_tokens\":0}");

    assertThat(TestHttp.json(response).get("error").get("message").asText())
        .isEqualTo("max_tokens must be at least 1, got 0.");
  }

  @Test
  void unknownRouteIs404AndWrongMethodIs405() {
    assertThat(http.get("/v1/nothing-here").statusCode()).isEqualTo(404);
    HttpResponse<String> wrongMethod = http.get("/v1/chat/completions");
    assertThat(wrongMethod.statusCode()).isEqualTo(405);
    assertThat(wrongMethod.headers().firstValue("allow")).hasValue("POST");
    HttpResponse<String> postHealth =
        http.send(http.request("/health").POST(HttpRequest.BodyPublishers.noBody()).build());
    assertThat(postHealth.statusCode()).isEqualTo(405);
  }

  @Test
  void errorsAreNotCountedAsSuccesses() {
    http.post("/v1/completions", "{\"model\":\"nope\",\"prompt\":\"x\"}");
    http.post("/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":0}");

    assertThat(server.requestSuccessTotal()).isZero();
    assertThat(server.generationTokensTotal()).isZero();
    assertThat(server.runningRequests()).isZero();
  }

  private static void assertBadRequest(HttpResponse<String> response) {
    assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
    JsonNode error = TestHttp.json(response).get("error");
    assertThat(error.get("type").asText()).isEqualTo("BadRequestError");
    assertThat(error.get("code").asInt()).isEqualTo(400);
    assertThat(error.get("param").isNull()).isTrue();
    assertThat(error.get("message").asText()).isNotBlank();
  }
}
