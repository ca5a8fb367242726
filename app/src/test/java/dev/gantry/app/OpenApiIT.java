package dev.gantry.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The real jar documents every route it serves, in every module (the gateway's controllers and the
 * app's health routes): the actuator's list of request mappings against {@code /v3/api-docs}, both
 * read without an API key, and Swagger UI opens without one.
 */
class OpenApiIT {
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  @Test
  @Timeout(180)
  void theRunningPlatformDocumentsEveryRouteItServes() throws Exception {
    try (var platform =
        new PlatformProcess(
                "openapi", "--management.endpoints.web.exposure.include=health,info,mappings")
            .start()) {
      var docs = withoutKey(platform, "/v3/api-docs");
      assertThat(docs.statusCode()).isEqualTo(200);
      var paths = PlatformProcess.json(docs).path("paths");

      var routes = new ArrayList<String>();
      var mappings = PlatformProcess.json(withoutKey(platform, "/actuator/mappings"));
      for (JsonNode details : mappings.findParents("requestMappingConditions")) {
        String handler = details.path("handlerMethod").path("className").asText();
        if (handler.startsWith("org.springdoc.") || handler.startsWith("org.springframework.")) {
          continue; // the document's own routes, and the actuator's
        }
        var conditions = details.path("requestMappingConditions");
        assertThat(conditions.path("methods")).as(handler + " names its HTTP methods").isNotEmpty();
        for (JsonNode pattern : conditions.path("patterns")) {
          for (JsonNode method : conditions.path("methods")) {
            routes.add(method.asText() + " " + pattern.asText());
          }
        }
      }
      assertThat(routes)
          .contains(
              "GET /healthz",
              "GET /readyz",
              "POST /api/v1/deployments",
              "POST /api/v1/api-keys",
              "POST /deployment/{deploymentId}/**");

      List<String> undocumented = new ArrayList<>();
      for (String route : routes) {
        String method = route.substring(0, route.indexOf(' ')).toLowerCase(Locale.ROOT);
        String path = route.substring(route.indexOf(' ') + 1);
        // A /** route may be listed as the paths it accepts: one of them documented counts.
        String prefix = path.endsWith("/**") ? path.substring(0, path.length() - 2) : null;
        var candidates = new ArrayList<String>();
        paths
            .fieldNames()
            .forEachRemaining(
                p -> {
                  if (p.equals(path) || (prefix != null && p.startsWith(prefix))) {
                    candidates.add(p);
                  }
                });
        boolean documented =
            candidates.stream()
                .map(p -> paths.path(p).path(method))
                .anyMatch(
                    op ->
                        !op.path("summary").asText().isBlank() && !op.path("responses").isEmpty());
        if (!documented) {
          undocumented.add(route);
        }
      }
      assertThat(undocumented).as("routes without documentation").isEmpty();
      // The health routes are public, and say so.
      assertThat(paths.at("/~1healthz/get/security").isArray()).isTrue();
      assertThat(paths.at("/~1healthz/get/security")).isEmpty();

      var redirect = withoutKey(platform, "/swagger-ui.html");
      assertThat(redirect.statusCode()).isBetween(300, 399);
      String location = redirect.headers().firstValue("Location").orElseThrow();
      var ui = withoutKey(platform, URI.create("/").resolve(location).getPath());
      assertThat(ui.statusCode()).isEqualTo(200);
      assertThat(ui.body()).contains("swagger-ui");
    }
  }

  static HttpResponse<String> withoutKey(PlatformProcess platform, String path) throws Exception {
    return HTTP.send(
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + platform.port + path))
            .timeout(Duration.ofSeconds(30))
            .GET()
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
