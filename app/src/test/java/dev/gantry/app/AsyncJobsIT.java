package dev.gantry.app;

import static dev.gantry.app.PlatformProcess.counter;
import static dev.gantry.app.PlatformProcess.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Async jobs end to end, against the real jar: a cold start through submit and poll, idempotent
 * submits, cancel (the engine's generation stops), tenant isolation, retention, and a crash of the
 * platform with jobs queued and running (every job completes, none runs twice).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AsyncJobsIT {
  static final String MODEL = "jobs-it-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
  static final Duration RETENTION = Duration.ofSeconds(20);

  static PlatformProcess platform;
  static String dep;

  @BeforeAll
  static void startPlatform() throws Exception {
    platform =
        new PlatformProcess(
                "async-jobs-it",
                "--gantry.jobs.retention=" + RETENTION.toSeconds() + "s",
                "--gantry.jobs.sweep-interval=1s")
            .start();
    var created =
        platform.post(
            "/api/v1/deployments",
            Map.of(
                "name",
                "jobs",
                "model",
                MODEL,
                "framework",
                "sim",
                "min_workers",
                0,
                "max_workers",
                2,
                "concurrency",
                2,
                "idle_timeout_seconds",
                600,
                "framework_args",
                List.of("--inter-token-ms=20")));
    assertThat(created.statusCode()).isEqualTo(201);
    dep = json(created).get("id").asText();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                json(platform.get("/api/v1/deployments/" + dep))
                    .get("status")
                    .asText()
                    .equals("running"));
    // The gateway routes from a table refreshed off the request path: wait until it has it.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> platform.get("/openai/" + dep + "/v1/models").statusCode() == 200);
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  static Map<String, Object> chat(String content, int maxTokens) {
    return Map.of(
        "input",
        Map.of(
            "model",
            MODEL,
            "messages",
            List.of(Map.of("role", "user", "content", content)),
            "max_tokens",
            maxTokens));
  }

  static String submit(Map<String, Object> body) throws Exception {
    var accepted = platform.post("/deployment/" + dep + "/v1/chat/completions", body);
    assertThat(accepted.statusCode()).as(accepted.body()).isEqualTo(202);
    assertThat(json(accepted).get("status").asText()).isEqualTo("queued");
    return json(accepted).get("id").asText();
  }

  static HttpResponse<String> poll(String id) throws Exception {
    return platform.get("/deployment/" + dep + "/" + id);
  }

  /**
   * Polls every job in rounds until each has ended, and keeps the first answer that is not 202: a
   * finished job's result is removed when its retention ends, so it must be read in time.
   */
  static Map<String, HttpResponse<String>> awaitEnds(List<String> ids, Duration max) {
    Map<String, HttpResponse<String>> ends = new java.util.concurrent.ConcurrentHashMap<>();
    await()
        .atMost(max)
        .pollInterval(Duration.ofMillis(200))
        .until(
            () -> {
              for (String id : ids) {
                if (!ends.containsKey(id)) {
                  var r = poll(id);
                  if (r.statusCode() != 202) {
                    ends.put(id, r);
                  }
                }
              }
              return ends.size() == ids.size();
            });
    return ends;
  }

  static double engineCounter(String name) throws Exception {
    double sum = 0;
    for (long pid : platform.enginePids()) {
      sum += counter(PlatformProcess.engineMetrics(pid), name);
    }
    return sum;
  }

  @Test
  @Order(1)
  void aJobAtZeroWorkersWaitsThroughTheColdStartAndReturnsTheAnswer() throws Exception {
    assertThat(platform.enginePids()).isEmpty();
    long start = System.nanoTime();
    String id = submit(chat("hello async", 8));
    Set<String> seen = new LinkedHashSet<>();
    await()
        .atMost(Duration.ofSeconds(90))
        .pollInterval(Duration.ofMillis(100))
        .until(
            () -> {
              var r = poll(id);
              if (r.statusCode() == 202) {
                seen.add(json(r).get("status").asText());
                return false;
              }
              return true;
            });
    var done = poll(id);
    System.out.printf(
        "async job through a cold start: %d ms, states seen %s%n",
        (System.nanoTime() - start) / 1_000_000, seen);
    assertThat(done.statusCode()).isEqualTo(200);
    JsonNode answer = json(done);
    assertThat(answer.get("object").asText()).isEqualTo("chat.completion");
    assertThat(answer.get("model").asText()).isEqualTo(MODEL);
    assertThat(answer.at("/usage/completion_tokens").asInt()).isEqualTo(8);
    assertThat(seen).contains("queued").isSubsetOf("queued", "fetched", "processing");
  }

  @Test
  @Order(2)
  void aRepeatedIdempotencyKeyGivesTheSameJobAndADifferentBodyIsRefused() throws Exception {
    var key = Map.of("Idempotency-Key", "it-" + System.nanoTime());
    String path = "/deployment/" + dep + "/v1/chat/completions";
    var first = platform.post(path, chat("once", 3), key);
    var again = platform.post(path, chat("once", 3), key);
    var other = platform.post(path, chat("twice", 3), key);

    assertThat(first.statusCode()).isEqualTo(202);
    assertThat(again.statusCode()).isEqualTo(202);
    assertThat(json(again).get("id")).isEqualTo(json(first).get("id"));
    assertThat(other.statusCode()).isEqualTo(422);
    assertThat(json(other).at("/error/code").asInt()).isEqualTo(422);
    String id = json(first).get("id").asText();
    await().atMost(Duration.ofSeconds(30)).until(() -> poll(id).statusCode() == 200);
  }

  @Test
  @Order(3)
  void cancellingARunningJobStopsTheEnginesGeneration() throws Exception {
    double abortedBefore = engineCounter("gantry_sim:requests_aborted_total");
    String id = submit(chat("a long one", 5000)); // 100 s of tokens
    await()
        .atMost(Duration.ofSeconds(30))
        .until(() -> json(poll(id)).get("status").asText().equals("processing"));

    var cancelled = platform.delete("/deployment/" + dep + "/" + id);

    assertThat(cancelled.statusCode()).isEqualTo(202);
    assertThat(json(cancelled).get("status").asText()).isEqualTo("cancelled");
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> engineCounter("gantry_sim:requests_aborted_total") == abortedBefore + 1);
    assertThat(engineCounter("vllm:num_requests_running")).isZero();
    var after = poll(id);
    assertThat(after.statusCode()).isEqualTo(410);
    assertThat(json(after).get("status").asText()).isEqualTo("cancelled");
    // Cancelling again changes nothing.
    assertThat(platform.delete("/deployment/" + dep + "/" + id).statusCode()).isEqualTo(202);
  }

  @Test
  @Order(4)
  void anotherTenantCannotSeeOrCancelAJob() throws Exception {
    String id = submit(chat("mine", 2));
    var issued = platform.post("/api/v1/api-keys", Map.of("tenant", "intruder", "name", "it"));
    assertThat(issued.statusCode()).isEqualTo(201);
    String otherKey = json(issued).get("key").asText();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> platform.get("/api/v1/deployments", otherKey).statusCode() == 200);

    var seen = platform.get("/deployment/" + dep + "/" + id, otherKey);
    assertThat(seen.statusCode()).isEqualTo(404);
    assertThat(json(seen).at("/error/message").asText())
        .isEqualTo("Deployment not found or not running");
    var cancel =
        platform.send(
            java.net.http.HttpRequest.newBuilder(
                    java.net.URI.create(
                        "http://127.0.0.1:" + platform.port + "/deployment/" + dep + "/" + id))
                .DELETE(),
            otherKey);
    assertThat(cancel.statusCode()).isEqualTo(404);
    await().atMost(Duration.ofSeconds(30)).until(() -> poll(id).statusCode() == 200);
  }

  @Test
  @Order(5)
  void aFinishedJobIsRemovedWhenItsRetentionEnds() throws Exception {
    String id = submit(chat("short-lived", 2));
    await().atMost(Duration.ofSeconds(30)).until(() -> poll(id).statusCode() == 200);
    long completedAt = System.nanoTime();

    await().atMost(RETENTION.plusSeconds(15)).until(() -> poll(id).statusCode() == 404);

    assertThat(Duration.ofNanos(System.nanoTime() - completedAt))
        .isGreaterThanOrEqualTo(RETENTION.minusSeconds(1));
  }

  @Test
  @Order(6)
  void jobsQueuedAndRunningWhenThePlatformCrashesAllCompleteOnce() throws Exception {
    // 2 workers x concurrency 2: four jobs run, the others wait in the queue. 100 tokens = 2 s.
    List<String> ids = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      ids.add(submit(chat("crash " + i, 100)));
    }
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> json(poll(ids.get(0))).get("status").asText().equals("processing"));

    platform.crash();
    platform.start();

    // Engines die with the old platform, and a new one takes seconds to boot: what answers 200 at
    // once completed before the crash.
    List<String> doneBefore = new ArrayList<>();
    for (String id : ids) {
      if (poll(id).statusCode() == 200) {
        doneBefore.add(id);
      }
    }
    var ends = awaitEnds(ids, Duration.ofSeconds(120));
    double ranAfter = engineCounter("vllm:request_success_total");
    System.out.printf(
        "crash with %d jobs: %d had completed before it, %.0f ran after the restart%n",
        ids.size(), doneBefore.size(), ranAfter);
    assertThat(doneBefore.size()).isLessThan(ids.size());
    assertThat(ranAfter).isEqualTo(ids.size() - doneBefore.size());
    for (var end : ends.values()) {
      assertThat(end.statusCode()).as(end.body()).isEqualTo(200);
      assertThat(json(end).at("/usage/completion_tokens").asInt()).isEqualTo(100);
    }
  }

  @Test
  @Order(7)
  void acceptsAndCompletesABatchOfJobs() throws Exception {
    int jobs = 200;
    long start = System.nanoTime();
    List<String> ids;
    try (var pool = Executors.newFixedThreadPool(16)) {
      List<Future<String>> futures = new ArrayList<>();
      for (int i = 0; i < jobs; i++) {
        int n = i;
        futures.add(pool.submit(() -> submit(chat("batch " + n, 1))));
      }
      ids = new ArrayList<>();
      for (var f : futures) {
        ids.add(f.get());
      }
    }
    long accepted = System.nanoTime();
    Map<Integer, Integer> ends = new java.util.TreeMap<>();
    for (var end : awaitEnds(ids, Duration.ofSeconds(180)).entrySet()) {
      ends.merge(end.getValue().statusCode(), 1, Integer::sum);
      if (end.getValue().statusCode() != 200) {
        System.out.println("job " + end.getKey() + " ended " + end.getValue().body());
      }
    }
    long completed = System.nanoTime();
    double acceptSeconds = (accepted - start) / 1e9;
    double completeSeconds = (completed - start) / 1e9;
    System.out.printf(
        "async jobs: %d accepted in %.2f s (%.0f/s), all completed in %.2f s (%.0f/s)%n",
        jobs, acceptSeconds, jobs / acceptSeconds, completeSeconds, jobs / completeSeconds);
    assertThat(ids).doesNotHaveDuplicates().hasSize(jobs);
    assertThat(ends).containsExactly(Map.entry(200, jobs));
  }
}
