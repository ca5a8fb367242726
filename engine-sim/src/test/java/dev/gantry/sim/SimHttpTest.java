package dev.gantry.sim;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The simulator's HTTP/1.1 framing, over raw sockets: what a keep-alive client such as the
 * gateway's connection pool relies on (one response per request, nothing left over on the
 * connection), and bad requests refused without reading what they announce.
 */
class SimHttpTest {

  private static final String MODEL = "http-model";
  private static SimServer server;

  @BeforeAll
  static void start() {
    server = SimServer.start(SimConfig.defaults(MODEL).withTiming(0, 0));
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void aHeadAnswerHasNoBodySoTheNextRequestOnTheConnectionReadsItsOwnAnswer() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      send(socket, "HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n");
      String head = readHead(socket.getInputStream());
      assertThat(head).startsWith("HTTP/1.1 405 ").contains("Content-Length: ");

      send(socket, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n");
      String next = readHead(socket.getInputStream());
      assertThat(next).as("the GET's own status line, not HEAD's body").startsWith("HTTP/1.1 200 ");
      String body = new String(readBody(socket.getInputStream(), next), StandardCharsets.UTF_8);
      assertThat(body).contains("\"id\":\"" + MODEL + "\"");
    }
  }

  @Test
  void aChunkedRequestBodyIsRead() throws Exception {
    String json = TestHttp.completionBody(MODEL, "chunked prompt", 2, false);
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    int half = bytes.length / 2;
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      OutputStream out = socket.getOutputStream();
      out.write(
          ("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  + "Transfer-Encoding: chunked\r\n\r\n")
              .getBytes(StandardCharsets.US_ASCII));
      out.write((Integer.toHexString(half) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      out.write(bytes, 0, half);
      out.write(("\r\n" + Integer.toHexString(bytes.length - half) + ";ext=1\r\n").getBytes());
      out.write(bytes, half, bytes.length - half);
      out.write("\r\n0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String head = readHead(socket.getInputStream());
      assertThat(head).startsWith("HTTP/1.1 200 ");
      assertThat(new String(readBody(socket.getInputStream(), head), StandardCharsets.UTF_8))
          .contains("\"prompt_tokens\":2");
    }
  }

  @Test
  void ambiguousOrOversizedBodiesAreRefusedAndTheConnectionClosed() throws Exception {
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      send(
          socket,
          "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
              + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
      assertThat(new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
          .startsWith("HTTP/1.1 400 ")
          .contains("Connection: close");
    }
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      // Announced, never sent: refused at once, with no 100 Continue first.
      send(
          socket,
          "POST /v1/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: "
              + (SimHttp.MAX_BODY_BYTES + 1L)
              + "\r\n\r\n");
      assertThat(new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
          .startsWith("HTTP/1.1 413 ");
    }
  }

  @Test
  void anHttp10ClientGetsItsStreamUnchunkedThenTheClose() throws Exception {
    String json = TestHttp.completionBody(MODEL, "old client", 3, true);
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      socket.setSoTimeout(10_000);
      send(
          socket,
          "POST /v1/completions HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: "
              + json.getBytes(StandardCharsets.UTF_8).length
              + "\r\n\r\n"
              + json);
      String all = new String(socket.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(all).startsWith("HTTP/1.1 200 ").doesNotContain("Transfer-Encoding");
      assertThat(all.substring(all.indexOf("\r\n\r\n") + 4))
          .startsWith("data: {")
          .endsWith("data: [DONE]\n\n");
    }
  }

  @Test
  void aClientThatLeavesAnUntimedGenerationStopsIt() throws Exception {
    long abortedBefore = server.requestsAbortedTotal();
    String json = TestHttp.completionBody(MODEL, "endless", Integer.MAX_VALUE, false);
    try (Socket socket = new Socket("127.0.0.1", server.port())) {
      send(
          socket,
          "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              + "Content-Length: "
              + json.getBytes(StandardCharsets.UTF_8).length
              + "\r\n\r\n"
              + json);
      long before = server.generationTokensTotal();
      await().atMost(Duration.ofSeconds(10)).until(() -> server.generationTokensTotal() > before);
    }
    // With no time between tokens nothing sleeps: the generation must still see the client go.
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> server.requestsAbortedTotal() == abortedBefore + 1);
    long generated = server.generationTokensTotal();
    await()
        .during(Duration.ofMillis(200))
        .atMost(Duration.ofSeconds(2))
        .until(() -> server.generationTokensTotal() == generated);
    assertThat(server.runningRequests()).isZero();
  }

  private static void send(Socket socket, String text) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(text.getBytes(StandardCharsets.UTF_8));
    out.flush();
  }

  /** The status line and headers, up to the blank line. */
  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        break;
      }
      head.write(b);
      matched = (b == '\r' || b == '\n') && "\r\n\r\n".charAt(matched) == b ? matched + 1 : 0;
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }

  private static byte[] readBody(InputStream in, String head) throws IOException {
    int start = head.indexOf("Content-Length: ") + "Content-Length: ".length();
    int length = Integer.parseInt(head.substring(start, head.indexOf("\r\n", start)));
    return in.readNBytes(length);
  }
}
