package dev.gantry.gateway.error;

import java.util.List;
import org.springframework.http.HttpStatus;

/** A management-API error that becomes an RFC 9457 problem. */
public class ApiProblem extends RuntimeException {
  private final HttpStatus status;
  private final List<FieldError> errors;

  public ApiProblem(HttpStatus status, String detail) {
    this(status, detail, List.of());
  }

  public ApiProblem(HttpStatus status, String detail, List<FieldError> errors) {
    super(detail, null, false, false);
    this.status = status;
    this.errors = List.copyOf(errors);
  }

  public static ApiProblem validation(List<FieldError> errors) {
    return new ApiProblem(HttpStatus.BAD_REQUEST, "The request has invalid fields.", errors);
  }

  public static ApiProblem notFound(String what) {
    return new ApiProblem(HttpStatus.NOT_FOUND, what + " not found");
  }

  public HttpStatus status() {
    return status;
  }

  public List<FieldError> errors() {
    return errors;
  }
}
