package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EmbeddingsTest {

  private static final String MODEL = "embed-model";
  private static SimServer server;
  private static TestHttp http;

  @BeforeAll
  static void start() {
    server = SimServer.start(SimConfig.defaults(MODEL).withTiming(1, 1).withEmbeddingDim(64));
    http = new TestHttp(server);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void embedsAStringAsAUnitVectorOfTheConfiguredDimension() {
    JsonNode body = embed(Map.of("model", MODEL, "input", "hello embedding world"));

    assertThat(body.get("object").asText()).isEqualTo("list");
    assertThat(body.get("model").asText()).isEqualTo(MODEL);
    assertThat(body.get("data")).hasSize(1);
    JsonNode item = body.get("data").get(0);
    assertThat(item.get("object").asText()).isEqualTo("embedding");
    assertThat(item.get("index").asInt()).isZero();
    assertThat(item.get("embedding")).hasSize(64);
    assertThat(norm(vector(item))).isCloseTo(1.0, within(1e-5));
    assertThat(body.get("usage").get("prompt_tokens").asInt()).isEqualTo(3);
    assertThat(body.get("usage").get("total_tokens").asInt()).isEqualTo(3);
  }

  @Test
  void embedsEachInputOfAnArrayDeterministically() {
    JsonNode batch =
        embed(Map.of("model", MODEL, "input", List.of("alpha", "beta gamma", "alpha")));
    JsonNode single = embed(Map.of("input", "beta gamma"));

    assertThat(batch.get("data")).hasSize(3);
    for (int i = 0; i < 3; i++) {
      assertThat(batch.get("data").get(i).get("index").asInt()).isEqualTo(i);
      assertThat(norm(vector(batch.get("data").get(i)))).isCloseTo(1.0, within(1e-5));
    }
    double[] alpha = vector(batch.get("data").get(0));
    assertThat(vector(batch.get("data").get(2))).containsExactly(alpha);
    assertThat(vector(batch.get("data").get(1))).isNotEqualTo(alpha);
    assertThat(vector(single.get("data").get(0))).containsExactly(vector(batch.get("data").get(1)));
    assertThat(batch.get("usage").get("prompt_tokens").asInt()).isEqualTo(4);
  }

  @Test
  void supportsDimensionsAndBase64() {
    JsonNode floats = embed(Map.of("input", "vector", "dimensions", 8));
    JsonNode base64 =
        embed(Map.of("input", "vector", "dimensions", 8, "encoding_format", "base64"));

    double[] values = vector(floats.get("data").get(0));
    assertThat(values).hasSize(8);
    assertThat(norm(values)).isCloseTo(1.0, within(1e-5));
    ByteBuffer bytes =
        ByteBuffer.wrap(
                Base64.getDecoder().decode(base64.get("data").get(0).get("embedding").asText()))
            .order(ByteOrder.LITTLE_ENDIAN);
    double[] decoded = new double[bytes.remaining() / 4];
    for (int i = 0; i < decoded.length; i++) {
      decoded[i] = bytes.getFloat();
    }
    assertThat(decoded).containsExactly(values);
  }

  private static JsonNode embed(Map<String, Object> request) {
    var response = http.post("/v1/embeddings", TestHttp.write(request));
    assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    return TestHttp.json(response);
  }

  private static double[] vector(JsonNode item) {
    JsonNode values = item.get("embedding");
    double[] out = new double[values.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = values.get(i).floatValue();
    }
    return out;
  }

  private static double norm(double[] v) {
    double sum = 0;
    for (double x : v) {
      sum += x * x;
    }
    return Math.sqrt(sum);
  }
}
