package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseParserTest {

  private final List<String> events = new ArrayList<>();
  private final SseParser parser = new SseParser(events::add);

  private void feed(String text) {
    parser.feed(ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
  }

  @Test
  void splitsEventsInOneBuffer() {
    feed("data: {\"a\":1}\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n");

    assertThat(events).containsExactly("data: {\"a\":1}", "data: {\"b\":2}", "data: [DONE]");
    assertThat(parser.hasPartialEvent()).isFalse();
  }

  @Test
  void joinsEventsCutAnywhereIncludingInsideTheSeparator() {
    String stream = "data: one\n\ndata: two\nid: 7\n\ndata: [DONE]\n\n";
    for (int i = 0; i < stream.length(); i++) {
      feed(stream.substring(i, i + 1));
    }

    assertThat(events).containsExactly("data: one", "data: two\nid: 7", "data: [DONE]");
  }

  @Test
  void acceptsCrLfLineEnds() {
    feed("data: one\r\n\r\ndata: two\r");
    feed("\n\r");
    feed("\n");

    assertThat(events).containsExactly("data: one", "data: two");
  }

  @Test
  void keepsAnUnfinishedEventUntilItsBlankLine() {
    feed("data: one\n");

    assertThat(events).isEmpty();
    assertThat(parser.hasPartialEvent()).isTrue();

    feed("\n");
    assertThat(events).containsExactly("data: one");
  }
}
