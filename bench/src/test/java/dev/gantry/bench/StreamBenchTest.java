package dev.gantry.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Runs the load generator against a tiny in-process SSE server with known timing. */
class StreamBenchTest {

  static {
    // The JDK server leaves Nagle's algorithm on: small SSE writes would wait for delayed ACKs.
    System.setProperty("sun.net.httpserver.nodelay", "true");
  }

  private static final Pattern MAX_TOKENS = Pattern.compile("\"max_tokens\":(\\d+)");
  private static final long GAP_MS = 10;

  private HttpServer server;
  private ExecutorService executor;
  private final List<String> authorizations = new CopyOnWriteArrayList<>();
  private final List<String> bodies = new CopyOnWriteArrayList<>();

  @BeforeEach
  void start() throws IOException {
    executor = Executors.newVirtualThreadPerTaskExecutor();
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.setExecutor(executor);
    server.createContext("/v1/chat/completions", this::stream);
    server.createContext(
        "/fail",
        exchange -> {
          exchange.getRequestBody().readAllBytes();
          byte[] body = "{\"error\":\"busy\"}".getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(503, body.length);
          exchange.getResponseBody().write(body);
          exchange.close();
        });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
    executor.close();
  }

  private void stream(HttpExchange exchange) throws IOException {
    String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
    bodies.add(body);
    authorizations.add(String.valueOf(exchange.getRequestHeaders().getFirst("Authorization")));
    Matcher matcher = MAX_TOKENS.matcher(body);
    int tokens = matcher.find() ? Integer.parseInt(matcher.group(1)) : 1;
    exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
    exchange.sendResponseHeaders(200, 0);
    try (OutputStream out = exchange.getResponseBody()) {
      for (int i = 0; i < tokens; i++) {
        if (i > 0) {
          Thread.sleep(GAP_MS);
        }
        // CRLF separators and a comment line, which is no chunk
        out.write(("data: {\"i\":" + i + "}\r\n\r\n: keep-alive\n\n").getBytes());
        out.flush();
      }
      out.write("data: [DONE]\n\n".getBytes());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private StreamBench.Options options(String path, String... extra) {
    List<String> args =
        new java.util.ArrayList<>(
            List.of(
                "--url=http://127.0.0.1:" + server.getAddress().getPort() + path,
                "--model",
                "m\"1",
                "--key=sekrit",
                "--streams=4",
                "--max-tokens=5",
                "--warmup-seconds=0",
                "--duration-seconds=1",
                "--stagger-ms=20",
                "--label=test"));
    args.addAll(List.of(extra));
    return StreamBench.Options.parse(args.toArray(String[]::new));
  }

  @Test
  void measuresTimeToFirstChunkAndEveryGap() throws Exception {
    StreamBench.Result result = StreamBench.run(options("/v1/chat/completions"));

    assertThat(result.failedStreams()).as(result.resultLine()).isZero();
    assertThat(result.measuredStreams()).as(result.resultLine()).isPositive();
    assertThat(result.minChunks()).isEqualTo(5);
    assertThat(result.maxChunks()).isEqualTo(5);
    // 5 chunks and [DONE]: 5 gaps per stream, 4 of them ~10 ms, the one before [DONE] ~0
    assertThat(result.gaps().size()).isEqualTo(result.measuredStreams() * 5);
    // The server paces chunks GAP_MS apart, so the longest gaps are at least that; how short the
    // others are depends on the machine's load, which a unit test must not.
    assertThat(result.gaps().percentile(99)).isGreaterThanOrEqualTo(GAP_MS * 900_000);
    assertThat(result.ttft().percentile(50)).isPositive();
    assertThat(result.resultLine())
        .startsWith("RESULT label=test ok=true streams=4 ")
        .contains("chunks_min=5", "gap_p99_us=", "ttft_p99_us=");
    assertThat(authorizations).allMatch("Bearer sekrit"::equals);
    assertThat(bodies.getFirst())
        .isEqualTo(
            "{\"model\":\"m\\\"1\",\"messages\":[{\"role\":\"user\",\"content\":\"Write a short"
                + " story about a gantry crane.\"}],\"max_tokens\":5,\"stream\":true}");
  }

  @Test
  void countsFailedStreamsAndKeepsTheFirstError() throws Exception {
    StreamBench.Result result = StreamBench.run(options("/fail"));

    assertThat(result.ok()).isFalse();
    assertThat(result.failedStreams()).isGreaterThanOrEqualTo(4);
    assertThat(result.measuredStreams()).isZero();
    assertThat(result.firstError()).isEqualTo("HTTP 503: {\"error\":\"busy\"}");
    assertThat(result.resultLine()).contains("ok=false", "failed_streams=");
  }

  @Test
  void rejectsBadOptions() {
    assertThat(StreamBench.Options.parse(new String[] {"--help"})).isNull();
    assertThatThrownBy(() -> StreamBench.Options.parse(new String[] {"--model", "m"}))
        .hasMessageContaining("--url");
    assertThatThrownBy(() -> options("/x", "--bogus=1")).hasMessageContaining("bogus");
    assertThatThrownBy(() -> options("/x", "--streams=0")).hasMessageContaining("> 0");
  }
}
