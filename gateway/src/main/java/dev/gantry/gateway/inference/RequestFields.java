package dev.gantry.gateway.inference;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.io.JsonStringEncoder;
import java.io.IOException;

/**
 * The two top-level fields the gateway needs from a request body, read with a streaming parser that
 * skips everything else (messages are never materialised).
 *
 * @param json whether the body is a JSON object (an empty body is not)
 * @param model the {@code model} field, if it is a string
 * @param stream whether {@code stream} is {@code true}
 */
record RequestFields(boolean json, String model, boolean stream) {
  private static final JsonFactory JSON = new JsonFactory();

  static RequestFields read(byte[] body) {
    if (body.length == 0) {
      return new RequestFields(false, null, false);
    }
    String model = null;
    boolean stream = false;
    try (JsonParser p = JSON.createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return new RequestFields(false, null, false);
      }
      JsonToken token;
      while ((token = p.nextToken()) == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if ("model".equals(name) && value == JsonToken.VALUE_STRING) {
          model = p.getText();
        } else if ("stream".equals(name)) {
          stream = value == JsonToken.VALUE_TRUE;
        } else {
          p.skipChildren();
        }
      }
      if (token != JsonToken.END_OBJECT || p.nextToken() != null) {
        return new RequestFields(false, null, false);
      }
      return new RequestFields(true, model, stream);
    } catch (IOException e) {
      return new RequestFields(false, null, false);
    }
  }

  /** A JSON string literal. */
  static String quote(String value) {
    return "\"" + new String(JsonStringEncoder.getInstance().quoteAsString(value)) + "\"";
  }
}
