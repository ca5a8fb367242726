package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SimMainTest {

  private static final Pattern LISTENING =
      Pattern.compile("gantry-sim listening on 127\\.0\\.0\\.1:(\\d+) model=cli-model");

  private static final Pattern BOOT =
      Pattern.compile(
          "gantry-sim boot: process_started_at=(\\S+) listening_at=(\\S+) ready_at=(\\S+)");

  @TempDir Path tmp;

  @Test
  void badFlagsPrintTheProblemAndReturnAUsageError() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();

    int status =
        SimMain.run(
            new String[] {"--port", "0", "--model", "m", "--turbo"},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8),
            code -> {});

    assertThat(status).isEqualTo(SimMain.USAGE_EXIT_CODE);
    assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("gantry-sim: unknown flag --turbo")
        .contains("--help");
  }

  @Test
  void helpPrintsUsage() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();

    int status =
        SimMain.run(
            new String[] {"--help"},
            new PrintStream(out, true, StandardCharsets.UTF_8),
            System.err,
            code -> {});

    assertThat(status).isZero();
    assertThat(out.toString(StandardCharsets.UTF_8))
        .contains("--port N")
        .contains("--max-concurrency N")
        .contains("--fail-after-requests N");
  }

  @Test
  void cliServesUntilSigterm() throws Exception {
    Process process = spawn("--port", "0", "--model", "cli-model", "--ttft-ms", "1");
    try {
      int port = awaitListening(process);
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      HttpResponse<String> health =
          client.send(
              HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);

      process.destroy(); // SIGTERM

      assertThat(process.waitFor(10, TimeUnit.SECONDS)).as(stderr()).isTrue();
      assertThat(process.exitValue()).isEqualTo(143); // 128 + SIGTERM, after the shutdown hook
      assertThatRefused(port);
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  void cliExitsWithStatus3AfterFailAfterRequests() throws Exception {
    Process process =
        spawn(
            "--port=0",
            "--model=cli-model",
            "--ttft-ms=1",
            "--inter-token-ms=1",
            "--fail-after-requests=1");
    try {
      int port = awaitListening(process);
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      HttpResponse<String> response =
          client.send(
              HttpRequest.newBuilder(
                      URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                  .POST(
                      HttpRequest.BodyPublishers.ofString(
                          TestHttp.chatBody("cli-model", "last words", 4, true)))
                  .build(),
              HttpResponse.BodyHandlers.ofString());

      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(response.body()).endsWith("data: [DONE]\n\n");
      assertThat(process.waitFor(10, TimeUnit.SECONDS)).as(stderr()).isTrue();
      assertThat(process.exitValue()).isEqualTo(SimServer.FAILURE_EXIT_CODE);
      assertThat(stderr()).contains("exiting with status 3");
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  void cliTellsWhenItsProcessStartedAndWhenItListenedAndServed() throws Exception {
    Process process =
        spawn("--port=0", "--model=cli-model", "--startup-seconds=0.6", "--ttft-ms=1");
    try {
      BufferedReader reader =
          new BufferedReader(
              new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
      String boot =
          CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      assertThat(LISTENING.matcher(reader.readLine()).matches()).isTrue();
                      return reader.readLine();
                    } catch (Exception e) {
                      throw new IllegalStateException(e);
                    }
                  })
              .get(15, TimeUnit.SECONDS);
      Matcher m = BOOT.matcher(boot == null ? "" : boot);
      assertThat(m.matches()).as(boot).isTrue();
      Instant processStarted = Instant.parse(m.group(1));
      Instant listening = Instant.parse(m.group(2));
      Instant ready = Instant.parse(m.group(3));
      assertThat(processStarted).isBefore(listening);
      // Ready once the warm-up and the simulated load (timed from the server's start, before
      // listening) are both over.
      assertThat(ready).isAfterOrEqualTo(listening);
      assertThat(Duration.between(processStarted, ready)).isGreaterThan(Duration.ofMillis(600));
      assertThat(processStarted).isAfter(Instant.now().minusSeconds(60));
    } finally {
      process.destroyForcibly();
    }
  }

  @Test
  void theProcessStartIsTakenToTheTickNotToTheSecond() {
    Instant jvmStarted =
        Instant.ofEpochMilli(
            java.lang.management.ManagementFactory.getRuntimeMXBean().getStartTime());
    Instant processStarted = SimMain.processStart();
    // The process starts a little before its JVM does; never after it (one 10 ms tick of slack).
    assertThat(processStarted).isBetween(jvmStarted.minusSeconds(5), jvmStarted.plusMillis(10));
  }

  @Test
  void cliRejectsBadFlagsWithNonZeroExit() throws Exception {
    Process process = spawn("--model", "cli-model");
    try {
      assertThat(process.waitFor(10, TimeUnit.SECONDS)).isTrue();
      assertThat(process.exitValue()).isEqualTo(SimMain.USAGE_EXIT_CODE);
      assertThat(stderr()).contains("missing required flag --port");
    } finally {
      process.destroyForcibly();
    }
  }

  private Process spawn(String... args) throws Exception {
    List<String> command = new ArrayList<>();
    command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(SimMain.class.getName());
    command.addAll(List.of(args));
    return new ProcessBuilder(command).redirectError(tmp.resolve("stderr.txt").toFile()).start();
  }

  private String stderr() throws Exception {
    Path file = tmp.resolve("stderr.txt");
    return Files.exists(file) ? Files.readString(file) : "";
  }

  private int awaitListening(Process process) throws Exception {
    BufferedReader reader =
        new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
    String line =
        CompletableFuture.supplyAsync(
                () -> {
                  try {
                    return reader.readLine();
                  } catch (Exception e) {
                    throw new IllegalStateException(e);
                  }
                })
            .get(15, TimeUnit.SECONDS);
    assertThat(line).as(stderr()).isNotNull();
    Matcher matcher = LISTENING.matcher(line);
    assertThat(matcher.matches()).as(line).isTrue();
    return Integer.parseInt(matcher.group(1));
  }

  private static void assertThatRefused(int port) {
    try (Socket socket = new Socket()) {
      socket.connect(new java.net.InetSocketAddress("127.0.0.1", port), 2000);
      throw new AssertionError("port " + port + " still accepts connections");
    } catch (ConnectException expected) {
      // the port was freed
    } catch (java.io.IOException e) {
      throw new AssertionError(e);
    }
  }
}
