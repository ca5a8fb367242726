package dev.gantry.gateway.inference;

import org.springframework.http.HttpStatus;

/**
 * A request answered with one of the error table's statuses and messages (docs/api.md "Errors").
 */
public final class InferenceException extends RuntimeException {
  private final HttpStatus status;
  private final boolean unsent;
  private final String retryAfter;

  public InferenceException(HttpStatus status, String message) {
    this(status, message, false);
  }

  private InferenceException(HttpStatus status, String message, boolean unsent) {
    this(status, message, unsent, retryAfterSeconds(status));
  }

  private InferenceException(HttpStatus status, String message, boolean unsent, String retryAfter) {
    super(message, null, false, false);
    this.status = status;
    this.unsent = unsent;
    this.retryAfter = retryAfter;
  }

  /** The source address failed to authenticate too often: 429 until {@code seconds} have passed. */
  static InferenceException tooManyFailedAttempts(long seconds) {
    return new InferenceException(
        HttpStatus.TOO_MANY_REQUESTS,
        "Too many failed authentication attempts from this address, retry later",
        false,
        Long.toString(seconds));
  }

  /** The {@code Retry-After} seconds this answer carries, or null. */
  public String retryAfter() {
    return retryAfter;
  }

  /** True when the request never reached a worker, so running it again cannot run it twice. */
  public boolean unsent() {
    return unsent;
  }

  public HttpStatus status() {
    return status;
  }

  static InferenceException unauthorized() {
    return new InferenceException(HttpStatus.UNAUTHORIZED, "Invalid API key");
  }

  public static InferenceException notFound() {
    return new InferenceException(HttpStatus.NOT_FOUND, "Deployment not found or not running");
  }

  static InferenceException requestTimeout() {
    return new InferenceException(HttpStatus.REQUEST_TIMEOUT, "Request timeout");
  }

  static InferenceException tooLarge() {
    return new InferenceException(HttpStatus.CONTENT_TOO_LARGE, "Request too large");
  }

  public static InferenceException queueFull() {
    return new InferenceException(HttpStatus.TOO_MANY_REQUESTS, "Server busy, please retry");
  }

  public static InferenceException badGateway() {
    return new InferenceException(HttpStatus.BAD_GATEWAY, "Worker returned an error, please retry");
  }

  /** No worker could be reached: the request was not sent. */
  static InferenceException unreachable() {
    return new InferenceException(
        HttpStatus.BAD_GATEWAY, "Worker returned an error, please retry", true);
  }

  static InferenceException noCapacity() {
    return new InferenceException(
        HttpStatus.SERVICE_UNAVAILABLE, "No GPUs available for scale-up, please retry");
  }

  static InferenceException stillStarting() {
    return new InferenceException(
        HttpStatus.GATEWAY_TIMEOUT, "A worker is still starting, please retry shortly");
  }

  static InferenceException internal() {
    return new InferenceException(HttpStatus.INTERNAL_SERVER_ERROR, "Request failed, please retry");
  }

  /** Seconds a client should wait before retrying, for the statuses that are worth a retry. */
  public static String retryAfterSeconds(HttpStatus status) {
    return switch (status) {
      case SERVICE_UNAVAILABLE -> "10";
      case GATEWAY_TIMEOUT -> "5";
      case REQUEST_TIMEOUT, TOO_MANY_REQUESTS, BAD_GATEWAY -> "1";
      default -> null;
    };
  }
}
