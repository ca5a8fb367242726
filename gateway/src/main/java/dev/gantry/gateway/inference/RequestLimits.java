package dev.gantry.gateway.inference;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.Framework;
import dev.gantry.gateway.inference.RequestFields.Sizes;
import dev.gantry.infra.config.GantryProperties;
import java.util.Set;
import org.springframework.http.HttpStatus;

/**
 * How much one generation request may ask of a worker: at most the deployment's {@code
 * max_tokens_limit} tokens ({@code max_tokens} or {@code max_completion_tokens}, {@code
 * max_output_tokens} on the Responses API) and {@code n_limit} choices ({@code n} or {@code
 * best_of}, times the number of prompts of a completions request), else 400. A request that sets no
 * output length gets one set to the limit: left alone, an engine such as vLLM generates up to the
 * model's context length, holding a worker slot all that time.
 */
public final class RequestLimits {
  /** Routes (after {@code v1/}) that generate, and so take these limits. */
  static final Set<String> GENERATION_ROUTES =
      Set.of("chat/completions", "completions", "responses");

  /** The Responses API names its output length {@code max_output_tokens} and has no choices. */
  private static final String RESPONSES = "responses";

  private final GantryProperties.Limits defaults;

  RequestLimits(GantryProperties.Limits defaults) {
    this.defaults = defaults;
  }

  int maxTokens(DeploymentSpec spec) {
    return spec.maxTokensLimit() != null ? spec.maxTokensLimit() : defaults.defaultMaxTokensLimit();
  }

  int n(DeploymentSpec spec) {
    return spec.nLimit() != null ? spec.nLimit() : defaults.defaultNLimit();
  }

  /** The refusal of a request that asks for more than the deployment allows, or null. */
  InferenceException check(DeploymentSpec spec, String route, Sizes sizes) {
    if (!GENERATION_ROUTES.contains(route)) {
      return null;
    }
    int tokens = maxTokens(spec);
    if (sizes.maxTokens() > tokens) {
      return tooMuch("max_tokens", tokens);
    }
    if (sizes.maxCompletionTokens() > tokens) {
      return tooMuch("max_completion_tokens", tokens);
    }
    if (sizes.maxOutputTokens() > tokens) {
      return tooMuch("max_output_tokens", tokens);
    }
    int choices = n(spec);
    if (sizes.n() > choices) {
      return tooMuch("n", choices);
    }
    if (sizes.bestOf() > choices) {
      return tooMuch("best_of", choices);
    }
    if (route.equals("completions")) {
      // Each prompt of a list is answered with its own n (or best_of) choices.
      double each = Math.max(1, Math.max(nanToZero(sizes.n()), nanToZero(sizes.bestOf())));
      if (sizes.prompts() * each > choices) {
        return new InferenceException(
            HttpStatus.BAD_REQUEST,
            "prompts times n (or best_of) must be at most " + choices + " on this deployment");
      }
    }
    return null;
  }

  /**
   * The body to send: with {@code max_tokens} added when the request sets no output length, since
   * vLLM, SGLang and Ollama then generate up to the context length. Not for {@code sim}: without
   * {@code max_tokens} the simulator stops at its own {@code --max-tokens-default}, its stand-in
   * for an end-of-sequence token, and a cap sent in its place would make every such answer the
   * longest allowed.
   */
  byte[] capped(DeploymentSpec spec, String route, byte[] body, Sizes sizes) {
    if (!GENERATION_ROUTES.contains(route)
        || sizes.end() < 0
        || sizes.tokensGiven()
        || spec.framework() == Framework.SIM) {
      return body;
    }
    String field = route.equals(RESPONSES) ? "max_output_tokens" : "max_tokens";
    return RequestFields.withField(body, sizes, field, maxTokens(spec));
  }

  private static double nanToZero(double value) {
    return Double.isNaN(value) ? 0 : value;
  }

  /**
   * The refusal of an async job's input that asks for more than the deployment allows, or null;
   * {@code route} is the job's route ({@code v1/...}).
   */
  public static InferenceException checkJob(
      GantryProperties.Limits defaults, DeploymentSpec spec, String route, byte[] input) {
    String generation = route.startsWith("v1/") ? route.substring(3) : route;
    return new RequestLimits(defaults).check(spec, generation, RequestFields.read(input).sizes());
  }

  private static InferenceException tooMuch(String field, int limit) {
    return new InferenceException(
        HttpStatus.BAD_REQUEST, field + " must be at most " + limit + " on this deployment");
  }
}
