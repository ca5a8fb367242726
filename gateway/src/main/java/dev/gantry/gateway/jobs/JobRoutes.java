package dev.gantry.gateway.jobs;

import java.util.Set;

/**
 * The worker routes an async job may call. The route is compared, exactly and as written, with the
 * OpenAI-compatible routes engines serve: an engine decodes the path it is sent, so anything
 * encoded ({@code v1/chat%2Fcompletions}, {@code v1/%2e%2e/metrics}), any dot segment, matrix
 * parameter or doubled slash would be checked here as one route and served there as another. An
 * allow-list leaves no such spelling, and keeps the engine's admin and metrics endpoints out of
 * reach.
 */
final class JobRoutes {
  /** The routes, as the engine sees them (its path without the leading slash). */
  static final Set<String> ALLOWED =
      Set.of(
          "v1/chat/completions",
          "v1/completions",
          "v1/embeddings",
          "v1/responses",
          "v1/rerank",
          "v1/score");

  private JobRoutes() {}

  static boolean allowed(String route) {
    return ALLOWED.contains(route);
  }
}
