package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WorkerLogsTest {
  private static final String WORKER = "dep_abcdef-w1";

  @TempDir Path dir;

  private static String numbered(int from, int to, String suffix) {
    return IntStream.rangeClosed(from, to)
        .mapToObj(i -> "line " + i + suffix)
        .collect(Collectors.joining("\n", "", "\n"));
  }

  @Test
  void tailReadsOnlyTheEndOfABigLog() throws Exception {
    WorkerLogs logs = new WorkerLogs(dir, 1024);
    Files.writeString(logs.fileOf(WORKER), numbered(1, 10_000, ""));

    assertThat(logs.tail(WORKER, 2, 64)).containsExactly("line 9999", "line 10000");
    // fewer lines than asked fit in the bytes read; the partial first line is dropped
    assertThat(logs.tail(WORKER, 100, 25)).containsExactly("line 9999", "line 10000");
    assertThat(logs.tail(WORKER, 100, 32)).containsExactly("line 9998", "line 9999", "line 10000");
  }

  @Test
  void tailContinuesIntoTheRotatedLog() throws Exception {
    WorkerLogs logs = new WorkerLogs(dir, 16);
    Files.writeString(logs.fileOf(WORKER), numbered(1, 3, ""));
    logs.rotate(List.of(WORKER));
    Files.writeString(logs.fileOf(WORKER), numbered(4, 4, ""));

    assertThat(logs.tail(WORKER, 3, 4096)).containsExactly("line 2", "line 3", "line 4");
    assertThat(logs.tail(WORKER, 1, 4096)).containsExactly("line 4");
  }

  @Test
  void removingADeploymentsLogsKeepsOtherDeployments() throws Exception {
    WorkerLogs logs = new WorkerLogs(dir, 16);
    Files.writeString(logs.fileOf(WORKER), "a\n");
    Files.writeString(logs.fileOf("dep_abcdef-w2"), "b\n");
    logs.rotate(List.of("dep_abcdef-w2"));
    Files.writeString(logs.fileOf("dep_abcdefgh-w1"), "keep\n");

    logs.removeDeployment("dep_abcdef");

    try (var left = Files.list(dir)) {
      assertThat(left.map(p -> p.getFileName().toString())).containsExactly("dep_abcdefgh-w1.log");
    }
  }

  @Test
  void credentialsAreMaskedInWhatLeavesTheHost() throws Exception {
    WorkerLogs logs = new WorkerLogs(dir, 1024);
    String token = "hf_" + "AbCdEf0123456789xyz";
    Files.writeString(
        logs.fileOf(WORKER),
        String.join(
                "\n",
                "env HF_TOKEN=" + token + " loaded",
                "GET https://hub/api with Authorization: Bearer " + token,
                "api_key: \"s3cr3tvalue\"",
                "loading weights 42%")
            + "\n");

    String excerpt = logs.excerpt(WORKER);
    assertThat(excerpt).doesNotContain(token).doesNotContain("s3cr3tvalue");
    assertThat(excerpt).contains("HF_TOKEN=***", "loading weights 42%");
  }

  @Test
  void aMissingOrEmptyLogHasNoLines() throws Exception {
    WorkerLogs logs = new WorkerLogs(dir, 16);
    assertThat(logs.tail(WORKER, 5, 4096)).isEmpty();
    assertThat(logs.excerpt(WORKER)).isEmpty();

    Files.writeString(logs.fileOf(WORKER), "\n\n");
    assertThat(logs.excerpt(WORKER)).isEmpty();
  }

  @Test
  void theExcerptIsBoundedInLinesAndCharacters() throws Exception {
    WorkerLogs logs = new WorkerLogs(dir, 1024);
    Files.writeString(logs.fileOf(WORKER), numbered(1, 50, "   "));

    assertThat(logs.excerpt(WORKER).lines().toList())
        .hasSize(20)
        .startsWith("line 31")
        .endsWith("line 50");

    Files.writeString(logs.fileOf(WORKER), numbered(1, 50, " " + "x".repeat(1000)));
    String excerpt = logs.excerpt(WORKER);
    assertThat(excerpt.length()).isLessThanOrEqualTo(2048);
    assertThat(excerpt.lines().toList())
        .isNotEmpty()
        .allSatisfy(line -> assertThat(line).hasSizeLessThanOrEqualTo(513).endsWith("…"))
        .last()
        .asString()
        .startsWith("line 50 ");
  }
}
