package dev.gantry.gateway.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/** The message of an engine's error answer: vLLM's {@code {"message"}} or OpenAI's shape. */
final class WorkerErrors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_MESSAGE = 2000;

  private WorkerErrors() {}

  static String message(byte[] body, int status) {
    try {
      JsonNode root = JSON.readTree(body);
      if (root != null) {
        JsonNode message =
            root.path("error").isObject()
                ? root.path("error").path("message")
                : root.path("message");
        if (message.isTextual() && !message.asText().isBlank()) {
          String text = message.asText();
          return text.length() > MAX_MESSAGE ? text.substring(0, MAX_MESSAGE) : text;
        }
      }
    } catch (IOException e) {
      // Not JSON: fall through.
    }
    return "The worker answered " + status;
  }
}
