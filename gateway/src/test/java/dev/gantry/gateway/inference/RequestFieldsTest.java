package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What the proxy reads off requests and responses without materialising them. */
class RequestFieldsTest {

  static RequestFields read(String json) {
    return RequestFields.read(json.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void readsTopLevelModelAndStreamOnly() {
    var fields =
        read(
            """
            {"messages":[{"role":"user","content":"say \\"model\\": x","model":"inner"}],
             "stream": true, "model": "tiny", "extra": {"model": "nested", "stream": false}}
            """);
    assertThat(fields.json()).isTrue();
    assertThat(fields.model()).isEqualTo("tiny");
    assertThat(fields.stream()).isTrue();
  }

  @Test
  void bodiesThatAreNotAJsonObjectAreRecognised() {
    assertThat(read("").json()).isFalse();
    assertThat(read("[1,2]").json()).isFalse();
    assertThat(read("{\"model\":").json()).isFalse();
    assertThat(read("{\"model\":\"a\"} trailing").json()).isFalse();
    var numericModel = read("{\"model\": 7}");
    assertThat(numericModel.json()).isTrue();
    assertThat(numericModel.model()).isNull();
    assertThat(numericModel.stream()).isFalse();
  }

  @Test
  void quotesModelNamesForJson() {
    assertThat(RequestFields.quote("a\"b\\c")).isEqualTo("\"a\\\"b\\\\c\"");
  }

  static void feed(UsageMeter meter, String text, boolean stream, int pieces) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    int step = Math.max(1, bytes.length / pieces);
    for (int from = 0; from < bytes.length; from += step) {
      var buf = Unpooled.wrappedBuffer(bytes, from, Math.min(step, bytes.length - from));
      meter.observe(buf, stream);
      assertThat(buf.readerIndex()).as("observing consumes nothing").isZero();
    }
  }

  @Test
  void usageIsReadFromTheEndOfACompletionEvenAcrossChunks() {
    var meter = new UsageMeter();
    String body =
        "{\"choices\":[{\"message\":{\"content\":\""
            + "word ".repeat(500)
            + "\"}}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":345,\"total_tokens\":357}}";
    feed(meter, body, false, 37);
    assertThat(meter.promptTokens()).isEqualTo(12);
    assertThat(meter.completionTokens(false)).isEqualTo(345);
  }

  @Test
  void aStreamWithoutUsageCountsItsTokenChunks() {
    var meter = new UsageMeter();
    var sse = new StringBuilder("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n");
    for (int i = 0; i < 40; i++) {
      sse.append("data: {\"choices\":[{\"delta\":{\"content\":\"t").append(i).append("\"}}]}\n\n");
    }
    sse.append("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"length\"}]}\n\n");
    sse.append("data: [DONE]\n\n");
    feed(meter, sse.toString(), true, 13);
    assertThat(meter.completionTokens(true)).isEqualTo(40);
    // Split between the two newlines that end every event.
    var split = new UsageMeter();
    for (String part : sse.toString().split("(?<=\n)(?=\n)")) {
      feed(split, part, true, 1);
    }
    assertThat(split.completionTokens(true)).isEqualTo(40);
    assertThat(meter.promptTokens()).isZero();
  }

  @Test
  void aStreamWithAUsageChunkReportsIt() {
    var meter = new UsageMeter();
    feed(
        meter,
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"
            + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1}}\n\n"
            + "data: [DONE]\n\n",
        true,
        3);
    assertThat(meter.promptTokens()).isEqualTo(3);
    assertThat(meter.completionTokens(true)).isEqualTo(1);
  }

  @Test
  void readsWhatARequestAsksToGenerate() {
    var sizes =
        read("""
                {"messages":[{"max_tokens":999999,"n":50}],"max_tokens":100,
                 "max_completion_tokens":1e9,"n":2,"best_of":"three","x":{"n":7}}
                """)
            .sizes();

    assertThat(sizes.maxTokens()).isEqualTo(100);
    assertThat(sizes.maxCompletionTokens()).isEqualTo(1e9);
    assertThat(sizes.n()).isEqualTo(2);
    assertThat(sizes.bestOf()).isNaN();
    assertThat(sizes.tokensGiven()).isTrue();
    assertThat(read("{\"max_tokens\": null}").sizes().tokensGiven()).isFalse();
  }

  @Test
  void addsAFieldAsTheLastMemberWithoutTouchingTheRest() {
    String body = " {\"model\":\"tiny\", \"max_tokens\": null ,\"s\":\"}\"}\n ";
    var fields = read(body);

    byte[] out =
        RequestFields.withField(
            body.getBytes(StandardCharsets.UTF_8), fields.sizes(), "max_tokens", 64);

    String sent = new String(out, StandardCharsets.UTF_8);
    assertThat(sent)
        .isEqualTo(" {\"model\":\"tiny\", \"max_tokens\": null ,\"s\":\"}\",\"max_tokens\":64}\n ");
    assertThat(read(sent).sizes().maxTokens()).isEqualTo(64);
    assertThat(
            new String(
                RequestFields.withField(
                    "{ }".getBytes(StandardCharsets.UTF_8), read("{ }").sizes(), "max_tokens", 5),
                StandardCharsets.UTF_8))
        .isEqualTo("{ \"max_tokens\":5}");
    String unicode = "{\"content\":\"h\u00e9llo \u2603\"}";
    assertThat(
            new String(
                RequestFields.withField(
                    unicode.getBytes(StandardCharsets.UTF_8),
                    read(unicode).sizes(),
                    "max_tokens",
                    5),
                StandardCharsets.UTF_8))
        .isEqualTo("{\"content\":\"h\u00e9llo \u2603\",\"max_tokens\":5}");
  }
}
