package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class TraceTest {

  private static final List<String> AZURE =
      List.of(
          "TIMESTAMP,ContextTokens,GeneratedTokens",
          "2023-11-16 18:17:03.9799600,4808,10",
          "2023-11-16 18:17:04.0319600,3180,8",
          "2023-11-16 18:18:03.9799600,100,0",
          "2023-11-16 18:17:03.5000000,5,1",
          "");

  @Test
  void readsTheAzureCsvWithOffsetsFromTheEarliestRequestInTimeOrder() {
    Trace trace = Trace.parse("azure", AZURE);

    assertThat(trace.format()).isEqualTo(Trace.Format.AZURE_CSV);
    assertThat(trace.requests())
        .containsExactly(
            new Trace.Request(0, 5, 1),
            new Trace.Request(479_960, 4808, 10),
            new Trace.Request(531_960, 3180, 8),
            new Trace.Request(60_479_960, 100, 0));
  }

  @Test
  void readsAzureTimestampsWithAUtcOffsetAndWithoutAHeader() {
    Trace trace =
        Trace.parse(
            "azure-2024",
            List.of(
                "2024-05-10 00:00:00.009930+00:00,2000,30",
                "2024-05-10 02:00:01.509930+02:00,10,2"));

    assertThat(trace.requests())
        .containsExactly(new Trace.Request(0, 2000, 30), new Trace.Request(1_500_000, 10, 2));
  }

  @Test
  void readsMooncakeJsonLines() {
    Trace trace =
        Trace.parse(
            "mooncake",
            List.of(
                "{\"timestamp\": 0, \"input_length\": 6758, \"output_length\": 500, \"hash_ids\":"
                    + " [0, 1, 2]}",
                "",
                "{\"timestamp\": 1500, \"input_length\": 10, \"output_length\": 3, \"hash_ids\": []}",
                "{\"timestamp\": 250.5, \"input_length\": 7, \"output_length\": 1}"));

    assertThat(trace.format()).isEqualTo(Trace.Format.MOONCAKE_JSONL);
    assertThat(trace.requests())
        .containsExactly(
            new Trace.Request(0, 6758, 500),
            new Trace.Request(250_500, 7, 1),
            new Trace.Request(1_500_000, 10, 3));
  }

  @Test
  void aSliceKeepsItsRequestsCountedFromTheSliceStart() {
    Trace trace = Trace.parse("azure", AZURE);

    assertThat(trace.slice(1, 1).requests()).containsExactly(new Trace.Request(479_960, 100, 0));
    assertThat(trace.slice(0, 1).requests()).hasSize(3);
    // The start is inclusive, the end exclusive.
    assertThat(trace.slice(479_960 / 60e6, 52_000 / 60e6).requests())
        .containsExactly(new Trace.Request(0, 4808, 10));
    assertThat(trace.slice(479_960 / 60e6, 52_001 / 60e6).requests())
        .containsExactly(new Trace.Request(0, 4808, 10), new Trace.Request(52_000, 3180, 8));
    assertThat(trace.slice(2, 5).requests()).isEmpty();
    assertThat(trace.slice(0.5, Double.POSITIVE_INFINITY).requests())
        .containsExactly(new Trace.Request(30_479_960, 100, 0));
    assertThat(trace.slice(1, 1e12).requests()).hasSize(1);
    assertThat(trace.spanMinutes()).isEqualTo(60_479_960 / 60e6);
    assertThatThrownBy(() -> trace.slice(-1, 1)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> trace.slice(0, 0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theScheduleCompressesTimeBySpeed() {
    Trace trace = Trace.parse("azure", AZURE);

    List<Trace.Scheduled> tenTimes = trace.schedule(10);

    assertThat(tenTimes)
        .extracting(Trace.Scheduled::sendAtNanos)
        .containsExactly(0L, 47_996_000L, 53_196_000L, 6_047_996_000L);
    assertThat(tenTimes).extracting(Trace.Scheduled::index).containsExactly(0, 1, 2, 3);
    assertThat(trace.schedule(0.5).get(1).sendAtNanos()).isEqualTo(959_920_000L);
    assertThatThrownBy(() -> trace.schedule(0)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aBadLineIsNamedByItsNumber() {
    assertThatThrownBy(
            () ->
                Trace.parse(
                    "t.csv",
                    List.of(
                        "TIMESTAMP,ContextTokens,GeneratedTokens",
                        "2023-11-16 18:17:03.97,12,3",
                        "2023-11-16 18:17:04.03,abc,3")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("t.csv line 3")
        .hasMessageContaining("ContextTokens");
    assertThatThrownBy(
            () -> Trace.parse("m.jsonl", List.of("{\"timestamp\": 1, \"input_length\": 2}")))
        .hasMessageContaining("m.jsonl line 1")
        .hasMessageContaining("output_length");
    assertThatThrownBy(() -> Trace.parse("h.csv", List.of("time,in,out", "1,2,3")))
        .hasMessageContaining("TIMESTAMP,ContextTokens,GeneratedTokens");
    assertThatThrownBy(() -> Trace.parse("e.csv", List.of("", " "))).hasMessageContaining("empty");
  }

  @Test
  void theBundledTracesLoad() throws Exception {
    // Surefire runs in the bench module's directory.
    Trace code = Trace.read(Path.of("traces/AzureLLMInferenceTrace_code.csv"));
    Trace conv = Trace.read(Path.of("traces/AzureLLMInferenceTrace_conv.csv"));
    Trace mooncake = Trace.read(Path.of("traces/mooncake_conversation_trace.jsonl"));

    assertThat(code.requests()).hasSize(8_819);
    assertThat(conv.requests()).hasSize(19_366);
    assertThat(mooncake.requests()).hasSize(12_031);
    assertThat(mooncake.format()).isEqualTo(Trace.Format.MOONCAKE_JSONL);
    // The baseline in docs/benchmarks.md replays minutes 0-5 of the code trace.
    assertThat(code.slice(0, 5).requests()).hasSize(781);
    assertThat(code.requests().getFirst()).isEqualTo(new Trace.Request(0, 4808, 10));
  }
}
