package dev.gantry.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeys;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * Paths that decode or normalise to a protected route are authenticated as they will be routed, and
 * malformed paths are refused with a 4xx, never a 500. Requests go over a raw socket so the path
 * reaches the server exactly as written.
 */
@SpringBootTest(
    classes = GatewayTestApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class PathAuthTest {
  @DynamicPropertySource
  static void properties(DynamicPropertyRegistry registry) throws IOException {
    TestData.embedded(registry, "pathauth");
    // Every request here comes from one address and most fail to authenticate on purpose.
    registry.add("gantry.auth.failed-attempts-burst", () -> "100000");
  }

  @LocalServerPort int port;
  @Autowired ApiKeys apiKeys;
  @Autowired ApiKeyCache keyCache;
  String key;

  @BeforeEach
  void setUp() {
    key = apiKeys.issue("acme", "acme", false).key();
    keyCache.refresh();
  }

  static Stream<String> disguisedPaths() {
    return Stream.of(
        "/api/v1/%64eployments",
        "/%61pi/v1/deployments",
        "/%61%70%69/v1/api-keys",
        "/api;x=y/v1/deployments",
        "/api/v1;x=y/deployments",
        "/api/v1/deployments;foo",
        "//api/v1/deployments",
        "/api//v1/deployments",
        "/./api/v1/deployments",
        "/x/../api/v1/deployments",
        "/x/%2e%2e/api/v1/deployments",
        "/%2fapi/v1/deployments",
        "/api%2fv1%2fdeployments",
        "/%64eployment/dep_x/req_x",
        "/deployment;a=b/dep_x/req_x",
        "/%6fpenai/dep_x/v1/models",
        "//openai/dep_x/v1/models",
        "/openai/..%2f..",
        "/openai/dep_x/v1/%2e%2e/metrics",
        "/openai/dep_x/v1/chat%2Fcompletions",
        "/api/v1/deployments/%zz",
        "/api/v1/deployments/%",
        "/api/v1/deployments/%c0%af",
        "/api/v1/deployments/%00",
        "/%zz/v1/deployments",
        "/api/v1/deployments\\x");
  }

  @ParameterizedTest
  @MethodSource("disguisedPaths")
  void withoutAKeyNothingProtectedAnswersAndNothingFails(String path) throws IOException {
    for (String method : new String[] {"GET", "POST"}) {
      int status = status(method, path, null);
      assertThat(status).as(method + " " + path).isIn(400, 401, 404);
    }
  }

  @ParameterizedTest
  @MethodSource("disguisedPaths")
  void withAKeyMalformedPathsAreRefusedNotFailed(String path) throws IOException {
    int status = status("GET", path, key);
    assertThat(status).as("GET " + path).isIn(200, 400, 404);
  }

  /** The status of one request sent as written, on a fresh connection. */
  int status(String method, String path, String bearer) throws IOException {
    String response = raw(port, method, path, bearer);
    return Integer.parseInt(response.substring(9, 12));
  }

  /** One request sent exactly as written to {@code port}, on a fresh connection; the response. */
  static String raw(int port, String method, String path, String bearer) throws IOException {
    try (var socket = new Socket("localhost", port)) {
      socket.setSoTimeout(10_000);
      String head =
          method
              + " "
              + path
              + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
              + (bearer == null ? "" : "Authorization: Bearer " + bearer + "\r\n")
              + ("POST".equals(method)
                  ? "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                  : "\r\n");
      socket.getOutputStream().write(head.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      String response = readAll(socket.getInputStream());
      assertThat(response).as(method + " " + path).startsWith("HTTP/1.1 ");
      return response;
    }
  }

  static String readAll(InputStream in) throws IOException {
    var out = new ByteArrayOutputStream();
    in.transferTo(out);
    return out.toString(StandardCharsets.ISO_8859_1);
  }
}
