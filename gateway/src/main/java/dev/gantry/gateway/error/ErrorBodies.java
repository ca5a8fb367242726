package dev.gantry.gateway.error;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.nio.charset.StandardCharsets;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;

/**
 * Error bodies written outside a controller (filters): problem+json on management routes, the
 * OpenAI shape on inference routes, as docs/api.md prescribes.
 */
public final class ErrorBodies {
  private ErrorBodies() {}

  public static Mono<Void> write(
      ServerWebExchange exchange, String path, HttpStatus status, String message) {
    var response = exchange.getResponse();
    response.setStatusCode(status);
    String body;
    if (path.startsWith("/api/")) {
      response.getHeaders().setContentType(MediaType.APPLICATION_PROBLEM_JSON);
      body =
          "{\"type\":\"about:blank\",\"title\":\""
              + status.getReasonPhrase()
              + "\",\"status\":"
              + status.value()
              + ",\"detail\":"
              + quote(message)
              + "}";
    } else {
      response.getHeaders().setContentType(MediaType.APPLICATION_JSON);
      body = openAi(status, message);
    }
    var buffer = response.bufferFactory().wrap(body.getBytes(StandardCharsets.UTF_8));
    return response.writeWith(Mono.just(buffer));
  }

  /** The OpenAI error shape, {@code {"error": {"message", "type", "code"}}}. */
  public static String openAi(HttpStatus status, String message) {
    return "{\"error\":{\"message\":"
        + quote(message)
        + ",\"type\":\""
        + openAiType(status)
        + "\",\"code\":"
        + status.value()
        + "}}";
  }

  private static String quote(String value) {
    return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(value)) + "\"";
  }

  static String openAiType(HttpStatus status) {
    return switch (status) {
      case UNAUTHORIZED -> "authentication_error";
      case NOT_FOUND -> "not_found_error";
      case TOO_MANY_REQUESTS -> "rate_limit_error";
      default -> status.is5xxServerError() ? "server_error" : "invalid_request_error";
    };
  }
}
