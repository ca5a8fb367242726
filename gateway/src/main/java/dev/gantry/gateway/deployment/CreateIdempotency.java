package dev.gantry.gateway.deployment;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.gantry.gateway.error.ApiProblem;
import dev.gantry.gateway.error.FieldError;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import org.springframework.http.HttpStatus;

/**
 * {@code Idempotency-Key} on {@code POST /api/v1/deployments}, after the IETF draft and as async
 * submits do it: the same key with the same request answers the first create's deployment, with a
 * different request 422, while the first create is under way 409. Keys are per tenant and kept for
 * {@link #RETENTION}.
 */
final class CreateIdempotency {
  static final String HEADER = "Idempotency-Key";

  /** Sent on an answer that repeats an earlier create instead of creating. */
  static final String REPLAYED = "Idempotent-Replayed";

  static final Duration RETENTION = Duration.ofHours(24);

  /**
   * A create whose workflow has not started after this long is taken as abandoned (its process
   * died); its key then answers the deployment, which the platform restarts like any other.
   */
  static final Duration IN_PROGRESS = Duration.ofMinutes(2);

  private static final int MAX_KEY = 255;
  private static final ObjectMapper CANONICAL =
      new ObjectMapper()
          .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true)
          .configure(SerializationFeature.INDENT_OUTPUT, false);

  private CreateIdempotency() {}

  /** The key, checked: 1 to 255 visible ASCII characters. */
  static String checkedKey(String key) {
    if (key.isEmpty()
        || key.length() > MAX_KEY
        || !key.chars().allMatch(c -> c >= 0x21 && c <= 0x7e)) {
      throw ApiProblem.validation(
          List.of(new FieldError(HEADER, "must be 1 to " + MAX_KEY + " visible ASCII characters")));
    }
    return key;
  }

  /**
   * SHA-256 of the request as canonical JSON (object members sorted), so the same request spelled
   * with its fields in another order is the same request.
   */
  static String requestHash(Map<String, Object> body) {
    try {
      byte[] json = CANONICAL.writeValueAsBytes(body);
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(json));
    } catch (JsonProcessingException | NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static ApiProblem differentRequest() {
    return new ApiProblem(
        HttpStatus.UNPROCESSABLE_CONTENT,
        "This Idempotency-Key was already used with a different request.");
  }

  static ApiProblem inProgress() {
    return new ApiProblem(
        HttpStatus.CONFLICT,
        "A request with this Idempotency-Key is still being processed; retry shortly.");
  }
}
