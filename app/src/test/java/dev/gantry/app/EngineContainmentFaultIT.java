package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.StreamSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 6, "a non-admin tenant can run commands on the host through env", against the real jar: a
 * tenant's key cannot hand an engine {@code JAVA_TOOL_OPTIONS}, {@code LD_PRELOAD} or {@code PATH},
 * nor talk argparse around the flag rules; and a tenant's {@code sim} engine, which runs whatever
 * the platform is, runs as an unprivileged uid that cannot read the platform's secrets key,
 * database or API key file, with none of the platform's environment. Process facts come from the OS
 * ({@code /proc}), not from Gantry.
 */
@Timeout(180)
class EngineContainmentFaultIT {
  static PlatformProcess platform;
  static String tenantKey;

  @BeforeAll
  static void startPlatform() throws Exception {
    platform = new PlatformProcess("containment-it").start();
    var issued = platform.post("/api/v1/api-keys", Map.of("tenant", "acme", "name", "it"));
    assertThat(issued.statusCode()).isEqualTo(201);
    tenantKey = PlatformProcess.json(issued).get("key").asText();
  }

  @AfterAll
  static void stopEverything() throws Exception {
    if (platform != null) {
      platform.close();
    }
  }

  static HttpResponse<String> createAsTenant(Map<String, Object> body) throws Exception {
    return PlatformProcess.send(
        HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + platform.port + "/api/v1/deployments"))
            .timeout(Duration.ofSeconds(30))
            .header("Content-Type", "application/json")
            .POST(
                HttpRequest.BodyPublishers.ofString(PlatformProcess.JSON.writeValueAsString(body))),
        tenantKey);
  }

  static Map<String, Object> sim(Map<String, String> env, List<String> args) {
    return Map.of(
        "name",
        "contained",
        "model",
        "tiny-contained",
        "framework",
        "sim",
        "min_workers",
        1,
        "storage_gb",
        1,
        "env",
        env,
        "framework_args",
        args);
  }

  @Test
  void aTenantCannotGiveAnEngineLoaderInterpreterOrPathVariablesNorSmuggleFlags() throws Exception {
    Path marker = platform.dataDir.resolve("pwned");
    Map<String, String> attempts =
        Map.of(
            "JAVA_TOOL_OPTIONS", "-XX:OnOutOfMemoryError=touch " + marker,
            "LD_PRELOAD", "/tmp/evil.so",
            "PATH", "/tmp/evil-bin:/usr/bin");
    for (var attempt : attempts.entrySet()) {
      var response = createAsTenant(sim(Map.of(attempt.getKey(), attempt.getValue()), List.of()));
      assertThat(response.statusCode()).as(attempt.getKey()).isEqualTo(400);
      assertThat(response.headers().firstValue("Content-Type"))
          .hasValue("application/problem+json");
      JsonNode errors = PlatformProcess.json(response).get("errors");
      assertThat(errors.get(0).get("field").asText()).isEqualTo("env." + attempt.getKey());
      assertThat(errors.get(0).get("message").asText()).contains(attempt.getKey());
      assertThat(response.body()).doesNotContain(attempt.getValue());
    }
    for (String arg : List.of("--hos=0.0.0.0", "--port_=1", "--max-model-len=2048")) {
      var response = createAsTenant(sim(Map.of(), List.of(arg)));
      assertThat(response.statusCode()).as(arg).isEqualTo(400);
      assertThat(PlatformProcess.json(response).get("errors").get(0).get("field").asText())
          .isEqualTo("framework_args[0]");
    }
    var vllm =
        Map.<String, Object>of(
            "name", "remote-code",
            "model", "org/model",
            "framework", "vllm",
            "gpu", Map.of("type", "H100"),
            "framework_args", List.of("--trust_remote_code"));
    assertThat(createAsTenant(vllm).statusCode()).isEqualTo(400);

    var listed = platform.get("/api/v1/deployments", tenantKey);
    assertThat(PlatformProcess.json(listed)).as("nothing was created").isEmpty();
    assertThat(marker).doesNotExist();
  }

  @Test
  void aTenantsEngineRunsUnprivilegedWithAMinimalEnvironmentAndCannotReadTheDataDir()
      throws Exception {
    assumeThat(uidOf(ProcessHandle.current().pid())).as("the ITs run as root (as in CI)").isZero();
    var created = createAsTenant(sim(Map.of("HF_TOKEN", "hf_containmentSecret1"), List.of()));
    assertThat(created.statusCode()).isEqualTo(201);
    String dep = PlatformProcess.json(created).get("id").asText();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                StreamSupport.stream(
                        PlatformProcess.json(
                                platform.get("/api/v1/deployments/" + dep + "/workers", tenantKey))
                            .spliterator(),
                        false)
                    .anyMatch(w -> w.get("status").asText().equals("healthy")));
    List<Long> engines = platform.enginePids();
    assertThat(engines).hasSize(1);
    long pid = engines.getFirst();

    long uid = uidOf(pid);
    assertThat(uid).as("the engine's uid").isNotZero();
    Map<String, String> env = environOf(pid);
    assertThat(env).containsEntry("HF_TOKEN", "hf_containmentSecret1");
    // The platform was started with GANTRY_API_KEY in its environment: the engine gets none of it.
    assertThat(env.keySet()).noneMatch(n -> n.startsWith("GANTRY_") || n.startsWith("JAVA_"));
    assertThat(env.get("PATH")).isEqualTo("/usr/local/bin:/usr/bin:/bin");

    Path dataDir = platform.dataDir;
    Path secretsKey = dataDir.resolve("secrets.key");
    assertThat(secretsKey).exists();
    assertThat(Files.getAttribute(secretsKey, "unix:uid", LinkOption.NOFOLLOW_LINKS))
        .isNotEqualTo((int) uid);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(secretsKey)))
        .isEqualTo("rw-------");
    assertThat(readableAs(uid, secretsKey)).as("secrets.key").isFalse();
    try (var db = Files.list(dataDir.resolve("db"))) {
      Path dbFile = db.filter(f -> f.toString().endsWith(".mv.db")).findFirst().orElseThrow();
      assertThat(readableAs(uid, dbFile)).as("the database").isFalse();
    }
    assertThat(readableAs(uid, dataDir.resolve("platform.out"))).as("the platform's log").isFalse();
    Path storage = dataDir.resolve("storage").resolve(dep);
    assertThat(Files.getAttribute(storage, "unix:uid", LinkOption.NOFOLLOW_LINKS))
        .isEqualTo((int) uid);

    var deleted =
        PlatformProcess.send(
            HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + platform.port + "/api/v1/deployments/" + dep))
                .timeout(Duration.ofSeconds(30))
                .DELETE(),
            tenantKey);
    assertThat(deleted.statusCode()).isEqualTo(202);
    await().atMost(Duration.ofSeconds(60)).until(() -> platform.enginePids().isEmpty());
  }

  static long uidOf(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith("Uid:")) {
        long[] uids =
            Arrays.stream(line.substring(4).strip().split("\\s+"))
                .mapToLong(Long::parseLong)
                .toArray();
        assertThat(uids).as("real, effective, saved and fs uid").containsOnly(uids[0]);
        return uids[0];
      }
    }
    throw new AssertionError("no Uid line for " + pid);
  }

  static Map<String, String> environOf(long pid) throws Exception {
    var env = new java.util.LinkedHashMap<String, String>();
    byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
    for (String entry : new String(raw, StandardCharsets.UTF_8).split("\0")) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        env.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    return env;
  }

  /** {@code cat file} as the uid, with no groups: what the engine itself could read. */
  static boolean readableAs(long uid, Path file) throws Exception {
    Process cat =
        new ProcessBuilder(
                "setpriv",
                "--reuid=" + uid,
                "--regid=" + uid,
                "--clear-groups",
                "--",
                "cat",
                file.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    assertThat(cat.waitFor(10, TimeUnit.SECONDS)).isTrue();
    return cat.exitValue() == 0;
  }
}
