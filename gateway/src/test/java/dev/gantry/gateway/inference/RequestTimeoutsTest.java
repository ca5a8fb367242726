package dev.gantry.gateway.inference;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.gateway.FakeOrchestrator;
import dev.gantry.gateway.GatewayTestBeans;
import dev.gantry.gateway.TestData;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Clients that never finish a request (head or body), or trickle it, lose their connection after
 * the configured time; well-behaved ones are untouched. Raw sockets, so the test decides exactly
 * what is sent and when.
 */
@SpringBootTest(
    classes = RequestTimeoutsTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@Timeout(60)
class RequestTimeoutsTest {
  static final Duration HEAD = Duration.ofMillis(800);
  static final Duration BODY = Duration.ofMillis(1500);
  static final Duration KEEP_ALIVE = Duration.ofSeconds(3);

  @GatewayTestBeans
  @Import(FakeOrchestrator.class)
  static class App {}

  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "timeouts");
    registry.add("gantry.gateway.request-header-timeout", () -> HEAD.toMillis() + "ms");
    registry.add("gantry.gateway.request-body-timeout", () -> BODY.toMillis() + "ms");
    registry.add("gantry.gateway.keep-alive-timeout", () -> KEEP_ALIVE.toMillis() + "ms");
    registry.add("gantry.auth.failed-attempts-burst", () -> "100000");
  }

  @LocalServerPort int port;

  Socket connect() throws IOException {
    var socket = new Socket("127.0.0.1", port);
    socket.setSoTimeout(20_000);
    return socket;
  }

  static void send(Socket socket, String text) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(text.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  /** Reads until the server closes the connection; what it sent. */
  static String readToClose(Socket socket) throws IOException {
    var out = new ByteArrayOutputStream();
    InputStream in = socket.getInputStream();
    try {
      in.transferTo(out);
    } catch (SocketException reset) {
      // A reset is a close too.
    }
    return out.toString(StandardCharsets.ISO_8859_1);
  }

  /**
   * Sends {@code text} a byte at a time, {@code pauseMillis} apart, until it is sent or refused.
   */
  static CompletableFuture<Void> trickle(Socket socket, String text, long pauseMillis) {
    return CompletableFuture.runAsync(
        () -> {
          try {
            for (char c : text.toCharArray()) {
              send(socket, String.valueOf(c));
              TimeUnit.MILLISECONDS.sleep(pauseMillis);
            }
          } catch (IOException | InterruptedException closed) {
            // The server closed the connection: what the test waits for.
          }
        });
  }

  @Test
  void aPartialHeadThatGoesSilentIsDisconnected() throws IOException {
    try (var socket = connect()) {
      send(socket, "GET /api/v1/deployments HTTP/1.1\r\nHost: localhost\r\n");
      long start = System.nanoTime();

      String answer = readToClose(socket);

      assertThat(answer).doesNotContain("HTTP/1.1 2");
      assertThat(Duration.ofNanos(System.nanoTime() - start))
          .isGreaterThanOrEqualTo(HEAD.minusMillis(100))
          .isLessThan(HEAD.plusSeconds(5));
    }
  }

  @Test
  void aConnectionThatSendsNothingIsDisconnected() throws IOException {
    try (var socket = connect()) {
      long start = System.nanoTime();
      readToClose(socket);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(HEAD.plusSeconds(5));
    }
  }

  @Test
  void aHeadTrickledAByteAtATimeIsDisconnected() throws IOException {
    try (var socket = connect()) {
      long start = System.nanoTime();
      var sender =
          trickle(socket, "GET /api/v1/deployments HTTP/1.1\r\n" + "X: y\r\n".repeat(100), 100);

      readToClose(socket);

      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(HEAD.plusSeconds(5));
      sender.cancel(true);
    }
  }

  @Test
  void aBodyTrickledAByteAtATimeIsDisconnectedOnEitherPath() throws IOException {
    for (String path : new String[] {"/openai/dep_x/v1/chat/completions", "/api/v1/deployments"}) {
      try (var socket = connect()) {
        String body = "{\"model\":\"" + "x".repeat(200) + "\"}";
        send(
            socket,
            "POST "
                + path
                + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                + "Content-Length: "
                + body.length()
                + "\r\n\r\n");
        long start = System.nanoTime();
        var sender = trickle(socket, body, 100);

        readToClose(socket);

        assertThat(Duration.ofNanos(System.nanoTime() - start))
            .as(path)
            .isLessThan(BODY.plusSeconds(5));
        assertThat(sender).as(path + ": the body was cut off").isNotDone();
        sender.cancel(true);
      }
    }
  }

  @Test
  void aKeptAliveConnectionServesRequestsAndClosesOnlyWhenIdle() throws Exception {
    try (var socket = connect()) {
      var in = socket.getInputStream();
      for (int i = 0; i < 3; i++) {
        send(socket, "GET /api/v1/deployments HTTP/1.1\r\nHost: localhost\r\n\r\n");
        String head = readHead(in);
        assertThat(head).startsWith("HTTP/1.1 401");
        skipBody(in, head);
        // Quiet for longer than the head timeout between requests: not a partial request.
        TimeUnit.MILLISECONDS.sleep(HEAD.toMillis() + 400);
      }
      long start = System.nanoTime();
      readToClose(socket);
      assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(KEEP_ALIVE.plusSeconds(5));
    }
  }

  static String readHead(InputStream in) throws IOException {
    var head = new StringBuilder();
    while (!head.toString().endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("closed after " + head);
      }
      head.append((char) b);
    }
    return head.toString();
  }

  static void skipBody(InputStream in, String head) throws IOException {
    for (String line : head.split("\r\n")) {
      if (line.toLowerCase().startsWith("content-length:")) {
        in.readNBytes(Integer.parseInt(line.substring(15).trim()));
      }
    }
  }
}
