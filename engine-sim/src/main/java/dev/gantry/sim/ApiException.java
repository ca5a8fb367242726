package dev.gantry.sim;

/**
 * An error answered to the client in vLLM's (OpenAI-style) shape: {@code
 * {"error":{"message":...,"type":...,"param":...,"code":status}}}.
 */
final class ApiException extends RuntimeException {

  private final int status;
  private final String type;
  private final String param;

  ApiException(int status, String type, String message, String param) {
    super(message, null, false, false);
    this.status = status;
    this.type = type;
    this.param = param;
  }

  static ApiException badRequest(String message) {
    return new ApiException(400, "BadRequestError", message, null);
  }

  static ApiException modelNotFound(String model) {
    return new ApiException(
        404, "NotFoundError", "The model `" + model + "` does not exist.", "model");
  }

  static ApiException unavailable(String message) {
    return new ApiException(503, "ServiceUnavailableError", message, null);
  }

  int status() {
    return status;
  }

  String type() {
    return type;
  }

  String param() {
    return param;
  }
}
