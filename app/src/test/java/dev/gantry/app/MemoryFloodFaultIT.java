package dev.gantry.app;

import static dev.gantry.app.PlatformProcess.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Issue 6, item 2: one tenant floods its deployments with bodies just under the size limit from
 * many connections at once, against the real jar on a small heap ({@value #MAX_HEAP_MIB} MiB). The
 * platform refuses what its body budget cannot take (429 with {@code Retry-After}), keeps answering
 * another tenant's requests with bounded latency and {@code /healthz} throughout, never runs out of
 * memory, and its heap in use stays below {@value #HEAP_USED_MIB} MiB (its live heap after a
 * collection below {@value #LIVE_HEAP_MIB} MiB).
 */
class MemoryFloodFaultIT {
  static final int MAX_HEAP_MIB = 512;

  /** The stated bound on the heap in use (live data and garbage) at any sample. */
  static final int HEAP_USED_MIB = 384;

  /** The stated bound on the live heap after a collection. */
  static final int LIVE_HEAP_MIB = 320;

  static final String MODEL = "flood-" + Long.toHexString(ThreadLocalRandom.current().nextLong());

  /** 7.9 MiB: just under the 8 MiB body limit. */
  static final int BODY_BYTES = 8_283_750;

  /** Enough for 750 MB of bodies at once, half again the whole heap, were they all taken. */
  static final int FLOOD_CONNECTIONS = 96;

  static final Duration FLOOD = Duration.ofSeconds(25);
  static final Duration VICTIM_LATENCY = Duration.ofSeconds(5);

  static PlatformProcess platform;

  /** The flooding connections open now: closed when the flood ends, waiting or not. */
  static final java.util.Set<Socket> open = ConcurrentHashMap.newKeySet();

  static final AtomicBoolean stop = new AtomicBoolean();

  @BeforeAll
  static void startPlatform() throws Exception {
    platform =
        new PlatformProcess(
                "memory-flood-it", "--management.endpoints.web.exposure.include=health,metrics")
            .withJvmOptions("-Xmx" + MAX_HEAP_MIB + "m")
            .start();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  static String tenantKey(String tenant) throws Exception {
    var issued = platform.post("/api/v1/api-keys", Map.of("tenant", tenant, "name", tenant));
    assertThat(issued.statusCode()).as(issued.body()).isEqualTo(201);
    return json(issued).get("key").asText();
  }

  static HttpResponse<String> post(String key, String path, String body) throws Exception {
    return PlatformProcess.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + platform.port + path))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)),
        key);
  }

  static String deployment(String key, String name, int concurrency, String ttftMs)
      throws Exception {
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
                    concurrency,
                    "wait_time_seconds",
                    60,
                    "framework_args",
                    List.of("--ttft-ms=" + ttftMs, "--inter-token-ms=1"))));
    assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
    return json(created).get("id").asText();
  }

  static String chat(String content) {
    return "{\"model\":\""
        + MODEL
        + "\",\"messages\":[{\"role\":\"user\",\"content\":\""
        + content
        + "\"}],\"max_tokens\":2}";
  }

  /** A gauge or the first measurement of an actuator metric, optionally for one tag. */
  static double metric(String name, String tag) throws Exception {
    var r = platform.get("/actuator/metrics/" + name + (tag == null ? "" : "?tag=" + tag));
    assertThat(r.statusCode()).as(name + ": " + r.body()).isEqualTo(200);
    return json(r).get("measurements").get(0).get("value").asDouble();
  }

  @Test
  void aTenantFloodingItsDeploymentsIsRefusedWhileTheHeapStaysBoundedAndOthersAreServed()
      throws Exception {
    String floodKey = tenantKey("flood");
    String calmKey = tenantKey("calm");
    // The flooded deployments answer slowly: what is not refused waits in their queues.
    var flooded = new ArrayList<String>();
    for (int i = 0; i < 3; i++) {
      flooded.add(deployment(floodKey, "flooded-" + i, 1, "60000"));
    }
    String calm = deployment(calmKey, "calm", 8, "5");
    await()
        .atMost(Duration.ofSeconds(60))
        .pollInterval(Duration.ofMillis(250))
        .until(
            () ->
                post(calmKey, "/openai/" + calm + "/v1/chat/completions", chat("warm")).statusCode()
                    == 200);
    for (String dep : flooded) {
      await()
          .atMost(Duration.ofSeconds(30))
          .until(() -> platform.get("/openai/" + dep + "/v1/models", floodKey).statusCode() == 200);
    }

    byte[] body = floodBody();
    var statuses = new ConcurrentHashMap<String, AtomicInteger>();
    var refusedWithoutRetryAfter = new AtomicInteger();
    var flooders = new ArrayList<Thread>();
    for (int i = 0; i < FLOOD_CONNECTIONS; i++) {
      String dep = flooded.get(i % flooded.size());
      flooders.add(
          Thread.ofVirtual()
              .start(
                  () -> {
                    while (!stop.get()) {
                      String head = floodOnce(floodKey, dep, body);
                      String status = head.length() >= 12 ? head.substring(9, 12) : "none";
                      statuses.computeIfAbsent(status, s -> new AtomicInteger()).incrementAndGet();
                      if (status.equals("429") && !head.toLowerCase().contains("retry-after:")) {
                        refusedWithoutRetryAfter.incrementAndGet();
                      }
                      // A short pause (shorter than Retry-After asks): the machine running this
                      // test is small, and the flood needs many connections, not a busy loop.
                      try {
                        Thread.sleep(50);
                      } catch (InterruptedException e) {
                        return;
                      }
                    }
                  }));
    }

    var victimLatencies = new CopyOnWriteArrayList<Long>();
    var victimFailures = new CopyOnWriteArrayList<String>();
    var healthFailures = new CopyOnWriteArrayList<String>();
    var maxLiveHeap = new AtomicLong();
    var maxHeapUsed = new AtomicLong();
    var maxBodyBytes = new AtomicLong();
    long floodEnd = System.nanoTime() + FLOOD.toNanos();
    while (System.nanoTime() < floodEnd) {
      long start = System.nanoTime();
      try {
        var answer = post(calmKey, "/openai/" + calm + "/v1/chat/completions", chat("hello"));
        if (answer.statusCode() != 200) {
          victimFailures.add(answer.statusCode() + " " + answer.body());
        }
      } catch (IOException e) {
        victimFailures.add(e.toString());
      }
      victimLatencies.add(Duration.ofNanos(System.nanoTime() - start).toMillis());
      try {
        var health = platform.get("/healthz");
        if (health.statusCode() != 200) {
          healthFailures.add(String.valueOf(health.statusCode()));
        }
        maxLiveHeap.accumulateAndGet((long) metric("jvm.gc.live.data.size", null), Math::max);
        maxHeapUsed.accumulateAndGet((long) metric("jvm.memory.used", "area:heap"), Math::max);
        maxBodyBytes.accumulateAndGet(
            (long) metric("gantry.inference.body.bytes", null), Math::max);
      } catch (IOException e) {
        healthFailures.add(e.toString());
      }
      Thread.sleep(200);
    }
    stop.set(true);
    for (Socket s : open) {
      s.close();
    }
    for (Thread t : flooders) {
      assertThat(t.join(Duration.ofSeconds(30))).as("a flooding client ended").isTrue();
    }

    long maxLatency = victimLatencies.stream().mapToLong(Long::longValue).max().orElseThrow();
    System.out.printf(
        "Flood: %s; calm tenant: %d requests, max latency %d ms; max live heap %d MiB, max heap"
            + " used %d MiB, max body bytes held %d MiB%n",
        statuses,
        victimLatencies.size(),
        maxLatency,
        maxLiveHeap.get() >> 20,
        maxHeapUsed.get() >> 20,
        maxBodyBytes.get() >> 20);
    assertThat(statuses.getOrDefault("429", new AtomicInteger()).get())
        .as("flood refused: %s", statuses)
        .isGreaterThan(FLOOD_CONNECTIONS);
    assertThat(refusedWithoutRetryAfter.get()).as("429s without Retry-After").isZero();
    assertThat(victimFailures).as("the calm tenant's requests").isEmpty();
    assertThat(victimLatencies.size()).as("the calm tenant kept being answered").isGreaterThan(20);
    assertThat(maxLatency)
        .as("the calm tenant's slowest answer, ms")
        .isLessThan(VICTIM_LATENCY.toMillis());
    assertThat(healthFailures).as("/healthz during the flood").isEmpty();
    assertThat(maxHeapUsed.get() >> 20).as("heap used, MiB").isLessThan(HEAP_USED_MIB);
    assertThat(maxLiveHeap.get() >> 20).as("live heap, MiB").isLessThan(LIVE_HEAP_MIB);
    assertThat(maxBodyBytes.get()).as("body bytes held").isLessThanOrEqualTo(MAX_HEAP_MIB << 18);

    // After the flood: healthy at once, the budget given back, nothing ran out of memory.
    assertThat(platform.get("/healthz").statusCode()).isEqualTo(200);
    assertThat(
            post(calmKey, "/openai/" + calm + "/v1/chat/completions", chat("after")).statusCode())
        .isEqualTo(200);
    String log = Files.readString(platform.dataDir.resolve("platform.out"));
    assertThat(log).doesNotContain("OutOfMemoryError");
  }

  /** A body just under the limit that the gateway would accept (the deployment's model). */
  static byte[] floodBody() {
    String prefix = "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"";
    String suffix = "\"}],\"max_tokens\":1}";
    byte[] body = new byte[BODY_BYTES];
    byte[] p = prefix.getBytes(StandardCharsets.US_ASCII);
    byte[] s = suffix.getBytes(StandardCharsets.US_ASCII);
    java.util.Arrays.fill(body, (byte) 'a');
    System.arraycopy(p, 0, body, 0, p.length);
    System.arraycopy(s, 0, body, body.length - s.length, s.length);
    return body;
  }

  /**
   * One flooding request on its own connection, sent as fast as the gateway reads it; the answer's
   * head (the empty string when the connection broke first). The client hangs up as soon as it is
   * answered, as an impatient one would.
   */
  static String floodOnce(String key, String dep, byte[] body) {
    try (var socket = new Socket("127.0.0.1", platform.port)) {
      open.add(socket);
      if (stop.get()) {
        // The flood ended while this connection opened: the close of the others missed it.
        return "";
      }
      socket.setSoTimeout(90_000);
      var out = socket.getOutputStream();
      String head =
          "POST /openai/"
              + dep
              + "/v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
              + key
              + "\r\nContent-Type: application/json\r\nContent-Length: "
              + body.length
              + "\r\n\r\n";
      out.write(head.getBytes(StandardCharsets.US_ASCII));
      var sender =
          Thread.ofVirtual()
              .start(
                  () -> {
                    try {
                      out.write(body);
                      out.flush();
                    } catch (IOException closed) {
                      // Answered (and hung up) before the body was sent.
                    }
                  });
      String answer = readHead(socket.getInputStream());
      socket.close();
      open.remove(socket);
      sender.join();
      return answer;
    } catch (IOException e) {
      return "";
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "";
    }
  }

  static String readHead(InputStream in) throws IOException {
    var head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      head.append((char) b);
    }
    return head.toString();
  }
}
