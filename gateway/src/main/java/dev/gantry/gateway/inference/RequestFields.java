package dev.gantry.gateway.inference;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The top-level fields the gateway needs from a request body, read with a streaming parser that
 * skips everything else (messages are never materialised).
 *
 * @param json whether the body is a JSON object (an empty body is not)
 * @param model the {@code model} field, if it is a string
 * @param stream whether {@code stream} is {@code true}
 * @param sizes what the request asks to generate; {@link Sizes#NONE} when the body is not JSON
 */
record RequestFields(boolean json, String model, boolean stream, Sizes sizes) {
  private static final JsonFactory JSON = new JsonFactory();
  private static final RequestFields NOT_JSON = new RequestFields(false, null, false, Sizes.NONE);

  /**
   * The numbers that decide how long a request occupies a worker. A field that is absent, null or
   * not a number (nor a string holding one) is {@link Double#NaN} (the engine judges it).
   *
   * @param maxTokens {@code max_tokens}
   * @param maxCompletionTokens {@code max_completion_tokens}, the newer name on chat completions
   * @param maxOutputTokens {@code max_output_tokens}, the name on the Responses API
   * @param n {@code n}
   * @param bestOf {@code best_of} (completions: that many are generated, {@code n} returned)
   * @param prompts how many prompts {@code prompt} holds (completions take a list of prompts and
   *     answer each): 1 when it is one prompt (a string, or one list of token ids) or absent
   * @param end offset of the body's closing brace, where a missing field can be added
   * @param empty whether the object has no field
   */
  record Sizes(
      double maxTokens,
      double maxCompletionTokens,
      double maxOutputTokens,
      double n,
      double bestOf,
      int prompts,
      int end,
      boolean empty) {
    static final Sizes NONE =
        new Sizes(Double.NaN, Double.NaN, Double.NaN, Double.NaN, Double.NaN, 1, -1, true);

    /** Whether the request sets its own output length. */
    boolean tokensGiven() {
      return !Double.isNaN(maxTokens)
          || !Double.isNaN(maxCompletionTokens)
          || !Double.isNaN(maxOutputTokens);
    }
  }

  static RequestFields read(byte[] body) {
    if (body.length == 0) {
      return NOT_JSON;
    }
    String model = null;
    boolean stream = false;
    double maxTokens = Double.NaN;
    double maxCompletionTokens = Double.NaN;
    double maxOutputTokens = Double.NaN;
    int prompts = 1;
    double n = Double.NaN;
    double bestOf = Double.NaN;
    boolean empty = true;
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return NOT_JSON;
      }
      JsonToken token;
      while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
        empty = false;
        String name = p.currentName();
        JsonToken value = p.nextToken();
        switch (name) {
          case "model" -> {
            if (value == JsonToken.VALUE_STRING) {
              model = p.getText();
            } else {
              p.skipChildren();
            }
          }
          case "stream" -> {
            stream = value == JsonToken.VALUE_TRUE;
            p.skipChildren();
          }
          case "max_tokens" -> maxTokens = number(p, value);
          case "max_completion_tokens" -> maxCompletionTokens = number(p, value);
          case "max_output_tokens" -> maxOutputTokens = number(p, value);
          case "prompt" -> prompts = prompts(p, value);
          case "n" -> n = number(p, value);
          case "best_of" -> bestOf = number(p, value);
          default -> p.skipChildren();
        }
      }
      if (token != JsonToken.END_OBJECT) {
        return NOT_JSON;
      }
      int end = (int) p.currentTokenLocation().getByteOffset();
      if (p.nextToken() != null) {
        return NOT_JSON;
      }
      return new RequestFields(
          true,
          model,
          stream,
          new Sizes(
              maxTokens, maxCompletionTokens, maxOutputTokens, n, bestOf, prompts, end, empty));
    } catch (IOException e) {
      return NOT_JSON;
    }
  }

  /**
   * How many prompts a {@code prompt} value holds: a list of strings or of token-id lists is that
   * many prompts; a string, a list of token ids, or anything else is one.
   */
  private static int prompts(JsonParser p, JsonToken value) throws IOException {
    if (value != JsonToken.START_ARRAY) {
      p.skipChildren();
      return 1;
    }
    int count = 0;
    boolean ofPrompts = false;
    for (JsonToken element = p.nextToken();
        element != JsonToken.END_ARRAY && element != null;
        element = p.nextToken()) {
      ofPrompts |= element == JsonToken.VALUE_STRING || element == JsonToken.START_ARRAY;
      count++;
      p.skipChildren();
    }
    return ofPrompts ? Math.max(1, count) : 1;
  }

  private static double number(JsonParser p, JsonToken value) throws IOException {
    if (value == JsonToken.VALUE_NUMBER_INT || value == JsonToken.VALUE_NUMBER_FLOAT) {
      return p.getValueAsDouble();
    }
    if (value == JsonToken.VALUE_STRING) {
      // vLLM and SGLang validate in pydantic's lax mode, which takes "64" as 64: a number sent as
      // a string must meet the same limits.
      try {
        return Double.parseDouble(p.getText().trim());
      } catch (NumberFormatException notANumber) {
        return Double.NaN;
      }
    }
    p.skipChildren();
    return Double.NaN;
  }

  /**
   * The body with {@code "field": value} added as its last member. Last, so that it is the value an
   * engine reads even where the body named the field already (as null): JSON parsers keep the last
   * of duplicate names. One copy of the body; nothing else of it is parsed or rewritten.
   */
  static byte[] withField(byte[] body, Sizes sizes, String field, long value) {
    byte[] member =
        ((sizes.empty() ? "" : ",") + quote(field) + ":" + value).getBytes(StandardCharsets.UTF_8);
    byte[] out = new byte[body.length + member.length];
    System.arraycopy(body, 0, out, 0, sizes.end());
    System.arraycopy(member, 0, out, sizes.end(), member.length);
    System.arraycopy(
        body, sizes.end(), out, sizes.end() + member.length, body.length - sizes.end());
    return out;
  }

  /** A JSON string literal. */
  static String quote(String value) {
    return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(value)) + "\"";
  }
}
