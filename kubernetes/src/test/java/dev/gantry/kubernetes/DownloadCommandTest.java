package dev.gantry.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gantry.jar download}: the local runtime's download code, its outcome for the Job. */
class DownloadCommandTest {
  @TempDir Path storage;
  @TempDir Path scratch;
  final ByteArrayOutputStream out = new ByteArrayOutputStream();

  int run(Map<String, String> env, String... args) {
    return DownloadCommand.run(args, env, new PrintStream(out, true, StandardCharsets.UTF_8));
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> outcome() throws Exception {
    return new ObjectMapper().readValue(scratch.resolve("termination-log").toFile(), Map.class);
  }

  @Test
  void aSimModelIsWrittenAndReportedComplete() throws Exception {
    int code =
        run(
            Map.of(),
            "--deployment-id=dep_abc123",
            "--framework=sim",
            "--model=tiny-llama",
            "--storage=" + storage,
            "--termination-log=" + scratch.resolve("termination-log"));

    assertThat(code).isZero();
    assertThat(storage.resolve("model/gantry-model.json")).exists();
    assertThat(outcome()).containsEntry("status", "ok");
    assertThat(((Number) outcome().get("bytes")).longValue()).isPositive();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains(DownloadCommand.PROGRESS + " ");
  }

  @Test
  void aGatedModelFailsWithTheLocalReasonAndNoToken() throws Exception {
    HttpServer hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    hub.createContext(
        "/",
        exchange -> {
          exchange.sendResponseHeaders(401, -1);
          exchange.close();
        });
    hub.start();
    try {
      String endpoint = "http://127.0.0.1:" + hub.getAddress().getPort();
      int code =
          run(
              Map.of("HF_TOKEN", "hf_top_secret"),
              "--deployment-id=dep_abc123",
              "--framework=vllm",
              "--model=meta-llama/Llama-3.1-8B-Instruct",
              "--storage=" + storage,
              "--storage-gb=10",
              "--gantry.models.hf-endpoint=" + endpoint,
              "--termination-log=" + scratch.resolve("termination-log"));

      assertThat(code).isEqualTo(1);
      assertThat(outcome())
          .containsEntry("status", "failed")
          .containsEntry("type", "MODEL_ACCESS_DENIED");
      assertThat((String) outcome().get("message")).contains("is gated or private");
      assertThat(Files.readString(scratch.resolve("termination-log")))
          .doesNotContain("hf_top_secret");
      assertThat(out.toString(StandardCharsets.UTF_8)).doesNotContain("hf_top_secret");
    } finally {
      hub.stop(0);
    }
  }

  @Test
  void aCommandLineItDoesNotKnowIsRefused() {
    assertThat(
            run(
                Map.of(),
                "--framework=sim",
                "--model=x",
                "--storage=" + storage,
                "--termination-log=" + scratch.resolve("termination-log")))
        .isEqualTo(2);
    assertThat(run(Map.of(), "stray")).isEqualTo(2);
  }
}
