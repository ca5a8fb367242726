package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Tracing on in the real jar: with {@code management.otlp.tracing.endpoint} set, an inference
 * request sent with a client {@code traceparent} is exported (OTLP/HTTP) as {@code
 * gantry.inference} spans in the client's trace, and the deployment's workflow and activities as
 * Temporal's spans. The collector here keeps the raw protobuf bodies; names and trace ids are found
 * as their bytes.
 */
class TracingIT {
  static final String CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c";

  @Test
  @Timeout(120)
  void anInferenceRequestAndTheDeploymentsWorkflowAreExported() throws Exception {
    var exported = new ByteArrayOutputStream();
    var collector = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    collector.createContext(
        "/v1/traces",
        exchange -> {
          byte[] body = exchange.getRequestBody().readAllBytes();
          synchronized (exported) {
            exported.writeBytes(body);
          }
          exchange.getResponseHeaders().set("Content-Type", "application/x-protobuf");
          exchange.sendResponseHeaders(200, -1);
          exchange.close();
        });
    collector.start();
    String endpoint = "http://127.0.0.1:" + collector.getAddress().getPort() + "/v1/traces";
    try (var platform =
        new PlatformProcess("tracing", "--management.otlp.tracing.endpoint=" + endpoint).start()) {
      var created =
          platform.post(
              "/api/v1/deployments",
              Map.of("name", "traced", "model", "tiny-traced", "framework", "sim"));
      assertThat(created.statusCode()).isEqualTo(201);
      String id = PlatformProcess.json(created).path("id").asText();
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () -> PlatformProcess.json(platform.get("/api/v1/deployments/" + id)).path("status"),
              s -> s.asText().equals("running"));

      var answer =
          HttpClient.newHttpClient()
              .send(
                  HttpRequest.newBuilder(
                          URI.create(
                              "http://127.0.0.1:"
                                  + platform.port
                                  + "/openai/"
                                  + id
                                  + "/v1/chat/completions"))
                      .header("Authorization", "Bearer " + platform.key)
                      .header("Content-Type", "application/json")
                      .header("traceparent", "00-" + CLIENT_TRACE + "-b7ad6b7169203331-01")
                      .POST(
                          HttpRequest.BodyPublishers.ofString(
                              PlatformProcess.JSON.writeValueAsString(
                                  Map.of(
                                      "model",
                                      "tiny-traced",
                                      "messages",
                                      List.of(Map.of("role", "user", "content", "Hello"))))))
                      .build(),
                  HttpResponse.BodyHandlers.ofString());
      assertThat(answer.statusCode()).isEqualTo(200);

      byte[] clientTrace = HexFormat.of().parseHex(CLIENT_TRACE);
      // Spans are sent in batches (every few seconds).
      await()
          .atMost(Duration.ofSeconds(30))
          .untilAsserted(
              () -> {
                byte[] bytes;
                synchronized (exported) {
                  bytes = exported.toByteArray();
                }
                String text = new String(bytes, StandardCharsets.ISO_8859_1);
                assertThat(text)
                    .contains("gantry.inference.admission")
                    .contains("gantry.inference.worker")
                    // A deployment's workflow runs until it is deleted: its run span is not
                    // ended yet, but its start and its activities (children of the run) are.
                    .contains("StartWorkflow:DeploymentWorkflow")
                    .contains("RunActivity:StartWorker");
                assertThat(text)
                    .as("the request's spans are in the client's trace")
                    .contains(new String(clientTrace, StandardCharsets.ISO_8859_1));
              });
    } finally {
      collector.stop(0);
    }
  }
}
