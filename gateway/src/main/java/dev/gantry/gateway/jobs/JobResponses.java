package dev.gantry.gateway.jobs;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import dev.gantry.api.job.JobStatus;
import dev.gantry.gateway.error.ErrorBodies;
import dev.gantry.gateway.inference.InferenceException;
import java.nio.charset.StandardCharsets;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;

/** The async API's answers (docs/api.md "Inference"): statuses, and errors in the OpenAI shape. */
final class JobResponses {
  private JobResponses() {}

  /** {@code {"id", "status"}}: a job accepted or not finished. */
  static ResponseEntity<byte[]> status(HttpStatus http, String id, JobStatus status) {
    return json(http, "{\"id\":" + quote(id) + ",\"status\":\"" + status.wireName() + "\"}");
  }

  /** {@code {"id", "status", "error": {...}}}: a failed or cancelled job. */
  static ResponseEntity<byte[]> ended(int http, String id, JobStatus status, String message) {
    HttpStatus resolved = HttpStatus.resolve(http);
    String error =
        resolved == null
            ? "{\"error\":{\"message\":"
                + quote(message)
                + ",\"type\":\"server_error\",\"code\":"
                + http
                + "}}"
            : ErrorBodies.openAi(resolved, message);
    // The error object of the OpenAI shape, inside the job's own fields.
    String inner = error.substring("{\"error\":".length(), error.length() - 1);
    return json(
        resolved == null ? HttpStatus.INTERNAL_SERVER_ERROR : resolved,
        "{\"id\":"
            + quote(id)
            + ",\"status\":\""
            + status.wireName()
            + "\",\"error\":"
            + inner
            + "}");
  }

  /** An error of the error table, for a request that did not get as far as a job. */
  static ResponseEntity<byte[]> error(HttpStatus status, String message) {
    var response = json(status, ErrorBodies.openAi(status, message));
    String retryAfter = InferenceException.retryAfterSeconds(status);
    if (retryAfter == null) {
      return response;
    }
    return ResponseEntity.status(status)
        .headers(response.getHeaders())
        .header(HttpHeaders.RETRY_AFTER, retryAfter)
        .body(response.getBody());
  }

  static ResponseEntity<byte[]> json(HttpStatus status, String body) {
    return ResponseEntity.status(status)
        .contentType(MediaType.APPLICATION_JSON)
        .body(body.getBytes(StandardCharsets.UTF_8));
  }

  /** The worker's answer itself, as it sent it. */
  static ResponseEntity<byte[]> result(String body, String contentType) {
    var headers = new HttpHeaders();
    headers.set(
        HttpHeaders.CONTENT_TYPE,
        contentType == null ? MediaType.APPLICATION_JSON_VALUE : contentType);
    return new ResponseEntity<>(body.getBytes(StandardCharsets.UTF_8), headers, HttpStatus.OK);
  }

  private static String quote(String value) {
    return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(value)) + "\"";
  }
}
