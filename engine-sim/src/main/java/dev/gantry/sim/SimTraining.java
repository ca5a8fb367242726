package dev.gantry.sim;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A training run of the simulator: starts a server on an ephemeral loopback port, sends it one
 * request of every kind a worker serves (health, models, metrics, chat and text completions
 * streamed and not, embeddings, an error), and stops. Run under {@code -XX:AOTCacheOutput} it
 * leaves the JVM an ahead-of-time cache of the classes a serving simulator loads and links, which
 * later workers start from: the platform builds it once per simulator build ({@code
 * dev.gantry.infra.runtime.SimAotCache}).
 *
 * <p>Exits 0 when every request got the answer it should, 1 otherwise (the cache is then not used).
 */
public final class SimTraining {

  private static final int TIMEOUT_MILLIS = 10_000;

  private SimTraining() {}

  public static void main(String[] args) {
    int status = run(System.out);
    System.exit(status);
  }

  /** Runs the training requests against a fresh server; 0 when all were answered as expected. */
  static int run(PrintStream out) {
    SimConfig config =
        SimConfig.parse(
            new String[] {
              "--host=127.0.0.1",
              "--port=0",
              "--model=aot-training",
              "--ttft-ms=1",
              "--inter-token-ms=0",
              "--max-tokens-default=8"
            });
    SimServer server = SimServer.start(config, status -> {});
    try {
      String chat =
          "{\"model\":\"aot-training\",\"messages\":[{\"role\":\"user\",\"content\":\"warm up\"}],"
              + "\"max_tokens\":4,\"stream\":%s}";
      String text =
          "{\"model\":\"aot-training\",\"prompt\":\"warm up\",\"max_tokens\":4,\"stream\":%s}";
      List<Exchange> exchanges =
          List.of(
              new Exchange("GET", "/health", null, 200),
              new Exchange("GET", "/v1/models", null, 200),
              new Exchange("POST", "/v1/chat/completions", chat.formatted("true"), 200),
              new Exchange("POST", "/v1/chat/completions", chat.formatted("false"), 200),
              new Exchange("POST", "/v1/completions", text.formatted("true"), 200),
              new Exchange("POST", "/v1/completions", text.formatted("false"), 200),
              new Exchange(
                  "POST",
                  "/v1/embeddings",
                  "{\"model\":\"aot-training\",\"input\":[\"warm up\"]}",
                  200),
              new Exchange("POST", "/v1/chat/completions", "{", 400),
              new Exchange("GET", "/metrics", null, 200));
      // Until the warm-up is over /health answers 503: wait for it as the platform would.
      long deadline = System.nanoTime() + TIMEOUT_MILLIS * 1_000_000L;
      while (!server.isReady() && System.nanoTime() < deadline) {
        Thread.sleep(5);
      }
      int failed = 0;
      for (Exchange exchange : exchanges) {
        int status = exchange.send(server.port());
        if (status != exchange.expected()) {
          out.println(
              "gantry-sim training: "
                  + exchange.method()
                  + " "
                  + exchange.path()
                  + " answered "
                  + status
                  + ", expected "
                  + exchange.expected());
          failed++;
        }
      }
      out.println("gantry-sim training: " + (exchanges.size() - failed) + " requests answered");
      out.flush();
      return failed == 0 ? 0 : 1;
    } catch (IOException e) {
      out.println("gantry-sim training failed: " + e);
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    } finally {
      server.close();
    }
  }

  /**
   * One HTTP/1.1 request with {@code Connection: close}, read to its end.
   *
   * @param expected the status it should get
   */
  private record Exchange(String method, String path, String body, int expected) {

    int send(int port) throws IOException {
      try (Socket socket = new Socket()) {
        socket.connect(new InetSocketAddress("127.0.0.1", port), TIMEOUT_MILLIS);
        socket.setSoTimeout(TIMEOUT_MILLIS);
        byte[] payload = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
        String head =
            method
                + " "
                + path
                + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                + (body == null
                    ? ""
                    : "Content-Type: application/json\r\nContent-Length: "
                        + payload.length
                        + "\r\n")
                + "\r\n";
        OutputStream to = socket.getOutputStream();
        to.write(head.getBytes(StandardCharsets.US_ASCII));
        to.write(payload);
        to.flush();
        return status(socket.getInputStream());
      }
    }

    /** The status code of the response's first line; reads the response to its end. */
    private static int status(InputStream from) throws IOException {
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      from.transferTo(all);
      String response = all.toString(StandardCharsets.US_ASCII);
      // "HTTP/1.1 200 OK"
      String[] first = response.lines().findFirst().orElse("").split(" ");
      try {
        return first.length > 1 ? Integer.parseInt(first[1]) : -1;
      } catch (NumberFormatException e) {
        return -1;
      }
    }
  }
}
