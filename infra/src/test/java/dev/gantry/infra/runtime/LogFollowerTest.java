package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(30)
class LogFollowerTest {
  @TempDir Path dir;

  final List<String> lines = new CopyOnWriteArrayList<>();
  final AtomicBoolean ended = new AtomicBoolean();
  final AtomicInteger active = new AtomicInteger();
  final AtomicBoolean running = new AtomicBoolean(true);

  final LogFollow.Listener listener =
      new LogFollow.Listener() {
        @Override
        public void line(String line) {
          lines.add(line);
        }

        @Override
        public void end() {
          ended.set(true);
        }
      };

  private void append(Path file, String text) throws IOException {
    Files.writeString(file, text, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
  }

  private LogFollower follow(WorkerLogs logs, String worker, int tail) throws IOException {
    Path file = logs.fileOf(worker);
    long position = LogFollower.sizeOf(file);
    return LogFollower.start(
        file,
        logs.tail(worker, tail, 1 << 20, position),
        position,
        running::get,
        listener,
        Duration.ofMillis(20),
        active);
  }

  @Test
  void deliversTheTailThenLiveLinesThenEndsWhenTheEngineStops() throws IOException {
    var logs = new WorkerLogs(dir, 1 << 20);
    Path file = logs.fileOf("dep_a-w1");
    append(file, "one\ntwo\nthree\n");
    try (var follow = follow(logs, "dep_a-w1", 2)) {
      await().until(() -> lines.size() == 2);
      assertThat(lines).containsExactly("two", "three");

      append(file, "four\nfi");
      await().until(() -> lines.size() == 3);
      append(file, "ve token=hf_abcdefghijkl\n" + "x".repeat(40_000) + "\n");
      await().until(() -> lines.size() == 5);
      assertThat(lines.get(2)).isEqualTo("four");
      assertThat(lines.get(3)).isEqualTo("five token=***");
      assertThat(lines.get(4)).hasSize(LogFollow.MAX_LINE_BYTES);
      assertThat(ended).isFalse();

      // Copy-truncate rotation: the engine goes on at the start of the emptied file.
      try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
        channel.truncate(0);
      }
      append(file, "six\n");
      await().until(() -> lines.size() == 6);
      assertThat(lines.get(5)).isEqualTo("six");

      append(file, "last words");
      running.set(false);
      await().untilTrue(ended);
      assertThat(lines.getLast()).isEqualTo("last words");
      await().until(() -> active.get() == 0);
    }
  }

  @Test
  void aClosedFollowStopsItsThreadAndDeliversNothingMore() throws IOException {
    var logs = new WorkerLogs(dir, 1 << 20);
    Path file = logs.fileOf("dep_a-w2");
    append(file, "hello\n");
    var follow = follow(logs, "dep_a-w2", 10);
    await().until(() -> lines.size() == 1);
    assertThat(active.get()).isEqualTo(1);

    follow.close();
    await().until(() -> active.get() == 0);
    append(file, "after\n");
    running.set(false);
    // The thread is gone (counted above), so nothing can deliver "after" or the end any more.
    assertThat(lines).containsExactly("hello");
    assertThat(ended).isFalse();
  }

  @Test
  void aWorkerThatIsNotRunningGetsItsTailAndTheEndAtOnce() throws IOException {
    var logs = new WorkerLogs(dir, 1 << 20);
    append(logs.fileOf("dep_a-w3"), "a\nb\n");
    running.set(false);
    follow(logs, "dep_a-w3", 200);
    await().untilTrue(ended);
    assertThat(lines).containsExactly("a", "b");
    await().until(() -> active.get() == 0);
  }
}
