package dev.gantry.infra.model;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Download throughput from a local stand-in Hub, and the cost of resuming a cut-off transfer. Not a
 * test of speed (nothing asserts a number): it prints what it measured. Not run by the build (the
 * name does not end in Test); run it with
 *
 * <pre>
 * ./mvnw -B -o -q -pl infra -am test -Dtest=ModelDownloadBenchmark \
 *     -Dsurefire.failIfNoSpecifiedTests=false -Dgantry.bench.mb=200
 * </pre>
 */
class ModelDownloadBenchmark {
  private static final int SHARDS = 4;

  @TempDir Path dataDir;

  @Test
  void throughputFromALocalStandInAndAResumedCutOff() throws Exception {
    int totalMb = Integer.getInteger("gantry.bench.mb", 200);
    int shardBytes = totalMb * 1_000_000 / SHARDS;
    try (var hub = new FakeHub()) {
      var repo = hub.repo("bench/model", "fedcba9876543210fedcba9876543210fedcba98");
      repo.file("config.json", "{}");
      for (int i = 1; i <= SHARDS; i++) {
        byte[] shard = new byte[shardBytes];
        new Random(i).nextBytes(shard);
        repo.lfsFile("model-%05d-of-%05d.safetensors".formatted(i, SHARDS), shard);
      }
      long total = (long) shardBytes * SHARDS + 2;
      for (int parallel : new int[] {1, 4}) {
        Path storage = Files.createDirectories(dataDir.resolve("p" + parallel));
        var preparer = new ModelPreparer(settings(hub, parallel), p -> Long.MAX_VALUE);
        long start = System.nanoTime();
        var prepared =
            preparer.prepare(
                new ModelRequest(
                    "dep_bench1", Framework.VLLM, "bench/model", storage, 10, null, null),
                ProgressListener.NONE);
        double seconds = (System.nanoTime() - start) / 1e9;
        assertThat(prepared.bytes()).isEqualTo(total);
        System.out.printf(
            Locale.ROOT,
            "model download: %d MB in %d files, %d in parallel: %.2f s, %.0f MB/s (verified,"
                + " fsynced)%n",
            total / 1_000_000,
            SHARDS + 1,
            parallel,
            seconds,
            total / 1e6 / seconds);
      }

      // A transfer cut off halfway, resumed: bytes on the wire for that file, and the time.
      String shard = "model-00001-of-%05d.safetensors".formatted(SHARDS);
      hub.cutOffs.put(shard, 1);
      hub.bytesServed.clear();
      hub.requests.clear();
      Path storage = Files.createDirectories(dataDir.resolve("resume"));
      long start = System.nanoTime();
      new ModelPreparer(settings(hub, 4), p -> Long.MAX_VALUE)
          .prepare(
              new ModelRequest(
                  "dep_bench1", Framework.VLLM, "bench/model", storage, 10, null, null),
              ProgressListener.NONE);
      double seconds = (System.nanoTime() - start) / 1e9;
      var ranges =
          hub.requestsFor("/" + shard).stream()
              .filter(r -> r.server().equals("cdn"))
              .map(FakeHub.Request::range)
              .toList();
      long resumedAt = Long.parseLong(ranges.getLast().replaceAll("\\D", ""));
      // Cut half + the rest from where the client's copy ended; a restart would be 1.5 sizes.
      assertThat(hub.served(shard)).isEqualTo(shardBytes / 2 + (shardBytes - resumedAt));
      System.out.printf(
          Locale.ROOT,
          "cut-off resume: %s (%d bytes) cut by the server after %d bytes; requests %s; %d"
              + " bytes served for it in total (a restart would be %d); whole model %.2f s%n",
          shard,
          shardBytes,
          shardBytes / 2,
          ranges,
          hub.served(shard),
          shardBytes / 2 + shardBytes,
          seconds);
    }
  }

  private static GantryProperties.Models settings(FakeHub hub, int parallel) {
    return new GantryProperties.Models(
            hub.endpoint().toString(),
            "http://127.0.0.1:1",
            parallel,
            Duration.ofSeconds(5),
            Duration.ofSeconds(60),
            2,
            Duration.ofSeconds(1),
            0)
        // The fakes listen on loopback: tests allow it, as an operator with a local mirror would.
        .withNetwork(List.of(), true);
  }
}
