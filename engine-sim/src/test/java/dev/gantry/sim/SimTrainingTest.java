package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SimTrainingTest {

  @Test
  void everyTrainingRequestIsAnsweredAsExpected() {
    var buffer = new ByteArrayOutputStream();
    int status;
    try (var out = new PrintStream(buffer, true, StandardCharsets.UTF_8)) {
      status = SimTraining.run(out);
    }

    String printed = buffer.toString(StandardCharsets.UTF_8);
    assertThat(printed).contains("gantry-sim training: 9 requests answered");
    assertThat(printed).doesNotContain("expected");
    assertThat(status).isZero();
  }
}
