package dev.gantry.app;

import static dev.gantry.app.PlatformProcess.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 6, item 16: one tenant submits large async inputs that wait (its deployment answers
 * slowly), round after round. Past its bound on stored input bytes a submit is answered 429 with
 * {@code Retry-After} and nothing is stored, while another tenant's submits are taken; inputs are
 * removed when their jobs end, so the next round is taken again; and the embedded database's file
 * grows by a small multiple of the inputs at most (it grew 24 times their size before).
 */
class JobInputsFaultIT {
  static final String MODEL = "inputs-" + Long.toHexString(ThreadLocalRandom.current().nextLong());
  static final long PER_TENANT = 40L << 20;
  static final long TOTAL = 64L << 20;

  /** Random base64: gzip gets it down to three quarters at best. */
  static final int CONTENT_CHARS = 7_500_000;

  static final int ROUNDS = 3;

  static PlatformProcess platform;

  @BeforeAll
  static void startPlatform() throws Exception {
    platform =
        new PlatformProcess(
                "job-inputs-it",
                "--gantry.jobs.max-input-bytes-per-tenant=" + PER_TENANT,
                "--gantry.jobs.max-input-bytes=" + TOTAL,
                "--gantry.jobs.sweep-interval=1s",
                // Room in memory for every input this test keeps waiting: the bound under test is
                // the one on stored inputs, not the body budget's.
                "--gantry.gateway.queued-body-bytes=" + (200L << 20),
                "--gantry.gateway.queued-body-bytes-per-tenant=" + (150L << 20),
                "--gantry.gateway.queued-body-bytes-per-deployment=" + (100L << 20),
                "--management.endpoints.web.exposure.include=health,metrics")
            .withJvmOptions("-Xmx512m")
            .start();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  static HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + platform.port + path))
        .timeout(Duration.ofSeconds(60));
  }

  static HttpResponse<String> post(String key, String path, String body) throws Exception {
    return PlatformProcess.send(
        request(path)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)),
        key);
  }

  static String tenantKey(String tenant) throws Exception {
    var issued = platform.post("/api/v1/api-keys", Map.of("tenant", tenant, "name", tenant));
    assertThat(issued.statusCode()).as(issued.body()).isEqualTo(201);
    return json(issued).get("key").asText();
  }

  static String deployment(String key, String name) throws Exception {
    var created =
        post(
            key,
            "/api/v1/deployments",
            PlatformProcess.JSON.writeValueAsString(
                Map.of(
                    "name",
                    name,
                    "model",
                    MODEL,
                    "framework",
                    "sim",
                    "min_workers",
                    1,
                    "max_workers",
                    1,
                    "concurrency",
                    1,
                    "framework_args",
                    List.of("--ttft-ms=120000"))));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    String id = json(created).get("id").asText();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> platform.get("/openai/" + id + "/v1/models", key).statusCode() == 200);
    return id;
  }

  static String job(String content) {
    return "{\"input\":{\"model\":\""
        + MODEL
        + "\",\"messages\":[{\"role\":\"user\",\"content\":\""
        + content
        + "\"}],\"max_tokens\":1}}";
  }

  static long dbBytes() throws Exception {
    Path file = platform.dataDir.resolve("db").resolve("gantry.mv.db");
    return Files.size(file);
  }

  @Test
  void largeInputsAreBoundedPerTenantRemovedWhenTheirJobsEndAndNotAmplifiedOnDisk()
      throws Exception {
    String hoarder = tenantKey("hoarder");
    String other = tenantKey("other");
    String dep = deployment(hoarder, "hoard");
    String otherDep = deployment(other, "other");
    var random = new Random(16);
    long before = dbBytes();
    long submitted = 0;
    int expected = (int) (PER_TENANT / (CONTENT_CHARS + 200));
    for (int round = 0; round < ROUNDS; round++) {
      var accepted = new ArrayList<String>();
      HttpResponse<String> refused = null;
      while (refused == null) {
        byte[] raw = new byte[CONTENT_CHARS * 3 / 4];
        random.nextBytes(raw);
        String body = job(Base64.getEncoder().encodeToString(raw));
        var r = post(hoarder, "/deployment/" + dep + "/v1/chat/completions", body);
        if (r.statusCode() == 202) {
          accepted.add(json(r).get("id").asText());
          submitted += body.length();
        } else {
          refused = r;
        }
        assertThat(accepted.size()).as("accepted before a refusal").isLessThanOrEqualTo(expected);
      }
      assertThat(refused.statusCode()).as(refused.body()).isEqualTo(429);
      assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
      assertThat(refused.body()).contains("Server busy, please retry");
      assertThat(accepted).as("round %d", round).hasSize(expected);

      // Another tenant is not held back by the hoarder's bound.
      var small = post(other, "/deployment/" + otherDep + "/v1/chat/completions", job("hi"));
      assertThat(small.statusCode()).as(small.body()).isEqualTo(202);
      var cancelSmall =
          PlatformProcess.send(
              request("/deployment/" + otherDep + "/" + json(small).get("id").asText()).DELETE(),
              other);
      assertThat(cancelSmall.statusCode()).isEqualTo(202);

      // Ending the jobs removes their inputs: the next round is taken again.
      for (String id : accepted) {
        var cancelled =
            PlatformProcess.send(request("/deployment/" + dep + "/" + id).DELETE(), hoarder);
        assertThat(cancelled.statusCode()).as(cancelled.body()).isEqualTo(202);
      }
      System.out.printf(
          "Round %d: %d inputs accepted, %d MB submitted so far, database file %d MB%n",
          round, accepted.size(), submitted / 1_000_000, dbBytes() / 1_000_000);
    }
    assertThat(platform.get("/healthz").statusCode()).isEqualTo(200);
    long grown = dbBytes() - before;
    var heap = json(platform.get("/actuator/metrics/jvm.memory.used?tag=area:heap"));
    System.out.printf(
        "Submitted %d MB of inputs in %d rounds: the database file grew by %d MB; heap used %d"
            + " MiB%n",
        submitted / 1_000_000,
        ROUNDS,
        grown / 1_000_000,
        (long) heap.get("measurements").get(0).get("value").asDouble() >> 20);
    assertThat(grown)
        .as("database growth for %d bytes of input", submitted)
        .isLessThan(4 * submitted);
  }
}
