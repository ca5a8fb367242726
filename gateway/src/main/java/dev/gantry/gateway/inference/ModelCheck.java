package dev.gantry.gateway.inference;

import java.util.Set;
import org.springframework.http.HttpStatus;

/**
 * The model rule, the same for a synchronous request and an async job's input: on the routes that
 * generate or embed, the body must name the model the deployment serves; elsewhere a model it names
 * must be that one.
 */
public final class ModelCheck {
  /** The routes (after {@code v1/}) whose body must name the deployment's model. */
  private static final Set<String> MODEL_ROUTES =
      Set.of("chat/completions", "completions", "embeddings");

  private ModelCheck() {}

  /** Whether {@code route} (after {@code v1/}) must name the model. */
  public static boolean required(String route) {
    return MODEL_ROUTES.contains(route);
  }

  /**
   * The refusal of a body naming {@code given} (null: none, or not a string) on {@code route}, for
   * a deployment serving {@code served}; null when it may go on.
   *
   * @param field the field's name as the caller wrote it ({@code model}, {@code input.model})
   */
  public static InferenceException refusal(
      String route, String given, String served, String field) {
    if (!required(route) && given == null) {
      return null;
    }
    if (given == null) {
      return new InferenceException(
          HttpStatus.BAD_REQUEST, field + " is required; this deployment serves '" + served + "'");
    }
    if (!given.equals(served)) {
      return new InferenceException(
          HttpStatus.NOT_FOUND,
          "The model '" + given + "' is not served by this deployment; it serves '" + served + "'");
    }
    return null;
  }
}
