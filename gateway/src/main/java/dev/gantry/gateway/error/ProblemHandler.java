package dev.gantry.gateway.error;

import java.net.URI;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.server.ServerWebInputException;

/** Turns management-API failures into {@code application/problem+json}. */
@RestControllerAdvice(basePackages = "dev.gantry.gateway")
public class ProblemHandler {
  private static final Logger log = LoggerFactory.getLogger(ProblemHandler.class);

  @ExceptionHandler(ApiProblem.class)
  ResponseEntity<ProblemDetail> apiProblem(ApiProblem problem) {
    var body = ProblemDetail.forStatusAndDetail(problem.status(), problem.getMessage());
    body.setTitle(problem.status().getReasonPhrase());
    if (!problem.errors().isEmpty()) {
      body.setProperty("errors", problem.errors());
    }
    return respond(problem.status(), body);
  }

  @ExceptionHandler(ServerWebInputException.class)
  ResponseEntity<ProblemDetail> unreadable(ServerWebInputException e) {
    var body =
        ProblemDetail.forStatusAndDetail(
            HttpStatus.BAD_REQUEST, "The request body is not valid JSON of the expected shape.");
    body.setTitle(HttpStatus.BAD_REQUEST.getReasonPhrase());
    return respond(HttpStatus.BAD_REQUEST, body);
  }

  @ExceptionHandler(RuntimeException.class)
  ResponseEntity<ProblemDetail> unexpected(RuntimeException e) {
    if (e instanceof org.springframework.web.server.ResponseStatusException rse) {
      var status = HttpStatus.valueOf(rse.getStatusCode().value());
      var body = ProblemDetail.forStatusAndDetail(status, status.getReasonPhrase());
      body.setTitle(status.getReasonPhrase());
      return respond(status, body);
    }
    log.error("Unexpected error on the management API", e);
    var body =
        ProblemDetail.forStatusAndDetail(
            HttpStatus.INTERNAL_SERVER_ERROR, "Request failed, please retry");
    body.setTitle(HttpStatus.INTERNAL_SERVER_ERROR.getReasonPhrase());
    return respond(HttpStatus.INTERNAL_SERVER_ERROR, body);
  }

  private static ResponseEntity<ProblemDetail> respond(HttpStatus status, ProblemDetail body) {
    body.setType(URI.create("about:blank"));
    return ResponseEntity.status(status).contentType(MediaType.APPLICATION_PROBLEM_JSON).body(body);
  }
}
