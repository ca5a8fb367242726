package dev.gantry.sim;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;

/** Parsing and validation of the OpenAI request bodies the simulator accepts. */
final class Requests {

  private Requests() {}

  /** A chat or text completion request, reduced to what the simulator needs. */
  record Generation(
      String promptText,
      int promptTokens,
      int maxTokens,
      boolean maxTokensGiven,
      boolean stream,
      boolean includeUsage) {

    /** {@code "length"} when the client's token limit cut the answer, else {@code "stop"}. */
    String finishReason() {
      return maxTokensGiven ? "length" : "stop";
    }

    long seed() {
      return Determinism.hash(promptText);
    }
  }

  /** An embeddings request: one text per input, in order. */
  record Embedding(List<String> inputs, int promptTokens, int dimensions, boolean base64) {}

  static JsonNode parseObject(ObjectMapper mapper, String body) {
    JsonNode node;
    try {
      node = mapper.readTree(body);
    } catch (JacksonException e) {
      throw ApiException.badRequest("Invalid JSON body: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) {
      throw ApiException.badRequest("Request body must be a JSON object");
    }
    return node;
  }

  /** Validates the optional {@code model} field against the served model (vLLM's 404). */
  static void checkModel(JsonNode body, String served) {
    JsonNode model = body.get("model");
    if (model == null || model.isNull()) {
      return; // vLLM serves the default model when none is named
    }
    if (!model.isTextual()) {
      throw ApiException.badRequest("'model' must be a string");
    }
    if (!model.asText().equals(served)) {
      throw ApiException.modelNotFound(model.asText());
    }
  }

  static Generation chat(JsonNode body, int maxTokensDefault) {
    JsonNode messages = body.get("messages");
    if (messages == null || messages.isNull()) {
      throw ApiException.badRequest("'messages' is required");
    }
    if (!messages.isArray() || messages.isEmpty()) {
      throw ApiException.badRequest("'messages' must be a non-empty array");
    }
    List<String> contents = new ArrayList<>();
    for (int i = 0; i < messages.size(); i++) {
      JsonNode message = messages.get(i);
      if (!message.isObject()) {
        throw ApiException.badRequest("messages[" + i + "] must be an object");
      }
      JsonNode role = message.get("role");
      if (role == null || !role.isTextual()) {
        throw ApiException.badRequest("messages[" + i + "].role is required and must be a string");
      }
      contents.add(content(message.get("content"), i));
    }
    Integer maxTokens = optionalPositiveInt(body, "max_completion_tokens");
    if (maxTokens == null) {
      maxTokens = optionalPositiveInt(body, "max_tokens");
    }
    return generation(body, String.join("\n", contents), maxTokens, maxTokensDefault);
  }

  static Generation completion(JsonNode body, int maxTokensDefault) {
    JsonNode prompt = body.get("prompt");
    if (prompt == null || prompt.isNull()) {
      throw ApiException.badRequest("'prompt' is required");
    }
    String text;
    if (prompt.isTextual()) {
      text = prompt.asText();
    } else if (prompt.isArray() && prompt.size() == 1 && prompt.get(0).isTextual()) {
      text = prompt.get(0).asText();
    } else if (prompt.isArray() && !prompt.isEmpty() && allIntegers(prompt)) {
      text = joinTokenIds(prompt);
    } else if (prompt.isArray() && prompt.size() > 1) {
      throw ApiException.badRequest(
          "gantry-sim serves one prompt per request; send batched prompts separately");
    } else {
      throw ApiException.badRequest("'prompt' must be a string or an array of token ids");
    }
    Integer maxTokens = optionalPositiveInt(body, "max_tokens");
    return generation(body, text, maxTokens, maxTokensDefault);
  }

  static Embedding embedding(JsonNode body, int embeddingDim) {
    JsonNode input = body.get("input");
    if (input == null || input.isNull()) {
      throw ApiException.badRequest("'input' is required");
    }
    List<String> inputs = new ArrayList<>();
    if (input.isTextual()) {
      inputs.add(input.asText());
    } else if (input.isArray() && !input.isEmpty()) {
      if (allIntegers(input)) {
        inputs.add(joinTokenIds(input));
      } else {
        for (int i = 0; i < input.size(); i++) {
          JsonNode item = input.get(i);
          if (item.isTextual()) {
            inputs.add(item.asText());
          } else if (item.isArray() && !item.isEmpty() && allIntegers(item)) {
            inputs.add(joinTokenIds(item));
          } else {
            throw ApiException.badRequest(
                "input[" + i + "] must be a string or a non-empty array of token ids");
          }
        }
      }
    } else {
      throw ApiException.badRequest("'input' must be a string or a non-empty array of strings");
    }
    int promptTokens = 0;
    for (String text : inputs) {
      promptTokens += Determinism.countTokens(text);
    }
    JsonNode format = body.get("encoding_format");
    boolean base64 = false;
    if (format != null && !format.isNull()) {
      if (format.isTextual() && format.asText().equals("base64")) {
        base64 = true;
      } else if (!(format.isTextual() && format.asText().equals("float"))) {
        throw ApiException.badRequest("'encoding_format' must be \"float\" or \"base64\"");
      }
    }
    Integer dimensions = optionalPositiveInt(body, "dimensions");
    if (dimensions != null && dimensions > embeddingDim) {
      throw ApiException.badRequest(
          "dimensions must be at most " + embeddingDim + ", got " + dimensions);
    }
    return new Embedding(
        List.copyOf(inputs), promptTokens, dimensions == null ? embeddingDim : dimensions, base64);
  }

  private static Generation generation(
      JsonNode body, String promptText, Integer maxTokens, int maxTokensDefault) {
    boolean stream = optionalBoolean(body, "stream");
    JsonNode n = body.get("n");
    if (n != null && !n.isNull() && !(n.isIntegralNumber() && n.asLong() == 1)) {
      throw ApiException.badRequest("gantry-sim only supports n=1, got " + n);
    }
    boolean includeUsage = false;
    JsonNode streamOptions = body.get("stream_options");
    if (streamOptions != null && !streamOptions.isNull()) {
      if (!stream) {
        throw ApiException.badRequest("Stream options can only be defined when `stream=True`.");
      }
      if (!streamOptions.isObject()) {
        throw ApiException.badRequest("'stream_options' must be an object");
      }
      includeUsage = optionalBoolean(streamOptions, "include_usage");
    }
    return new Generation(
        promptText,
        Determinism.countTokens(promptText),
        maxTokens == null ? maxTokensDefault : maxTokens,
        maxTokens != null,
        stream,
        includeUsage);
  }

  private static String content(JsonNode content, int index) {
    if (content == null || content.isNull()) {
      return "";
    }
    if (content.isTextual()) {
      return content.asText();
    }
    if (content.isArray()) {
      List<String> parts = new ArrayList<>();
      for (JsonNode part : content) {
        if (!part.isObject()) {
          throw ApiException.badRequest("messages[" + index + "].content parts must be objects");
        }
        JsonNode text = part.get("text");
        if ("text".equals(part.path("type").asText()) && text != null && text.isTextual()) {
          parts.add(text.asText());
        }
      }
      return String.join("\n", parts);
    }
    throw ApiException.badRequest(
        "messages[" + index + "].content must be a string or an array of content parts");
  }

  private static Integer optionalPositiveInt(JsonNode body, String field) {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return null;
    }
    if (!value.isIntegralNumber() || !value.canConvertToInt()) {
      throw ApiException.badRequest("'" + field + "' must be an integer, got " + value);
    }
    if (value.asInt() < 1) {
      throw ApiException.badRequest(field + " must be at least 1, got " + value.asInt() + ".");
    }
    return value.asInt();
  }

  private static boolean optionalBoolean(JsonNode body, String field) {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return false;
    }
    if (!value.isBoolean()) {
      throw ApiException.badRequest("'" + field + "' must be a boolean, got " + value);
    }
    return value.asBoolean();
  }

  private static boolean allIntegers(JsonNode array) {
    for (JsonNode item : array) {
      if (!item.isIntegralNumber()) {
        return false;
      }
    }
    return true;
  }

  private static String joinTokenIds(JsonNode array) {
    StringBuilder sb = new StringBuilder();
    for (JsonNode item : array) {
      if (!sb.isEmpty()) {
        sb.append(' ');
      }
      sb.append(item.asLong());
    }
    return sb.toString();
  }
}
