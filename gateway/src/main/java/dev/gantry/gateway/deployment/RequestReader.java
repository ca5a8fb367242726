package dev.gantry.gateway.deployment;

import dev.gantry.gateway.error.FieldError;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads typed fields out of a parsed JSON object and collects one error per bad field, so a user
 * sees every problem of a request at once rather than one per attempt.
 */
final class RequestReader {
  private final Map<String, Object> body;
  private final String prefix;
  final List<FieldError> errors;

  RequestReader(Map<String, Object> body, String prefix, List<FieldError> errors) {
    this.body = body == null ? Map.of() : body;
    this.prefix = prefix;
    this.errors = errors;
  }

  RequestReader(Map<String, Object> body) {
    this(body, "", new ArrayList<>());
  }

  String path(String field) {
    return prefix + field;
  }

  void error(String field, String message) {
    errors.add(new FieldError(path(field), message));
  }

  boolean has(String field) {
    return body.containsKey(field) && body.get(field) != null;
  }

  void rejectUnknown(Set<String> known) {
    body.keySet().stream()
        .filter(k -> !known.contains(k))
        .sorted()
        .forEach(k -> error(k, "is not a known field"));
  }

  /** A string field as given: null when absent, or when not a string (an error then). */
  String text(String field) {
    Object value = body.get(field);
    if (value == null) {
      return null;
    }
    if (!(value instanceof String s)) {
      error(field, "must be a string");
      return null;
    }
    return s;
  }

  String string(String field, boolean required, int maxLength) {
    if (body.get(field) == null) {
      if (required) {
        error(field, "is required");
      }
      return null;
    }
    String s = text(field);
    if (s == null) {
      return null;
    }
    if (required && s.isBlank()) {
      error(field, "must not be blank");
      return null;
    }
    if (s.length() > maxLength) {
      error(field, "must be at most " + maxLength + " characters");
      return null;
    }
    if (s.chars().anyMatch(Character::isISOControl)) {
      error(field, "must not contain control characters");
      return null;
    }
    return s;
  }

  /** An integer field within [min, max]; {@code fallback} when absent. Null when invalid. */
  Integer integer(String field, int fallback, int min, int max, String rangeMessage) {
    if (body.get(field) == null) {
      return fallback;
    }
    Integer v = wholeNumber(field);
    if (v == null) {
      return null;
    }
    if (v < min || v > max) {
      error(field, rangeMessage);
      return null;
    }
    return v;
  }

  /** A number field within [min, max]; null when absent, or when invalid (an error then). */
  Double decimal(String field, double min, double max, String rangeMessage) {
    Object value = body.get(field);
    if (value == null) {
      return null;
    }
    if (!(value instanceof Number n) || !Double.isFinite(n.doubleValue())) {
      error(field, "must be a number");
      return null;
    }
    double v = n.doubleValue();
    if (v < min || v > max) {
      error(field, rangeMessage);
      return null;
    }
    return v;
  }

  /** An integer field as given: null when absent, or when not an int (an error then). */
  Integer wholeNumber(String field) {
    Object value = body.get(field);
    if (value == null) {
      return null;
    }
    if (!(value instanceof Integer || value instanceof Long)
        || ((Number) value).longValue() != ((Number) value).intValue()) {
      error(field, "must be an integer");
      return null;
    }
    return ((Number) value).intValue();
  }

  @SuppressWarnings("unchecked")
  Map<String, Object> object(String field) {
    Object value = body.get(field);
    if (value == null) {
      return null;
    }
    if (!(value instanceof Map<?, ?> map)) {
      error(field, "must be an object");
      return null;
    }
    return (Map<String, Object>) map;
  }

  List<String> strings(String field, int maxItems, int maxLength) {
    Object value = body.get(field);
    if (value == null) {
      return List.of();
    }
    if (!(value instanceof List<?> list)) {
      error(field, "must be an array of strings");
      return null;
    }
    if (list.size() > maxItems) {
      error(field, "must have at most " + maxItems + " items");
      return null;
    }
    var out = new ArrayList<String>();
    for (int i = 0; i < list.size(); i++) {
      if (!(list.get(i) instanceof String s)) {
        error(field + "[" + i + "]", "must be a string");
        return null;
      }
      if (s.length() > maxLength) {
        error(field + "[" + i + "]", "must be at most " + maxLength + " characters");
        return null;
      }
      out.add(s);
    }
    return out;
  }
}
