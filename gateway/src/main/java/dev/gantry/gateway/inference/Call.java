package dev.gantry.gateway.inference;

/**
 * One inference request as the data plane knows it: what was asked for (fixed when the call is
 * made) and what its owner learnt on the way. The owner is the one class that runs the request,
 * {@link Exchange} for a synchronous request or {@link BufferedCall} for an async job's call: it
 * alone writes the fields below from the results of the steps it runs (checks, admission, worker
 * call), on one thread at a time, and {@link UsageSink} reads them once the request has ended.
 */
final class Call {
  static final String PREFIX = "/openai/";

  final String deploymentId;

  /** The route after {@code /v1/}: {@code chat/completions}, {@code models}, ... */
  final String rest;

  /** The path called on the worker. */
  final String upstreamPath;

  /** The query string with its {@code ?}, or empty. */
  final String query;

  final String requestId;
  final long startedAtMillis;

  /** Reads prompt and completion token counts from the worker's answer as it passes. */
  final UsageMeter meter = new UsageMeter();

  /** The caller's tenant, once the API key is checked. */
  String tenantId;

  /** The deployment's route, once it is known to be the caller's; null before (or never). */
  DeploymentRoute route;

  /** The worker of the last call made, or null. */
  String workerId;

  /** Whether the request asked for a stream. */
  boolean streamed;

  /** When the first byte of a worker's answer body arrived; 0 before (or never). */
  long firstByteAtMillis;

  private Call(
      String deploymentId,
      String rest,
      String upstreamPath,
      String query,
      String requestId,
      long startedAtMillis) {
    this.deploymentId = deploymentId;
    this.rest = rest;
    this.upstreamPath = upstreamPath;
    this.query = query;
    this.requestId = requestId;
    this.startedAtMillis = startedAtMillis;
  }

  /** Whether a request is for the data plane; checked on the connection before WebFlux sees it. */
  static boolean handles(String uri) {
    return uri.startsWith(PREFIX);
  }

  /** {@code /openai/{id}/v1/{rest}[?query]}; a path of another shape has no deployment id. */
  static Call parse(String uri, String requestId, long now) {
    int q = uri.indexOf('?');
    String path = q < 0 ? uri : uri.substring(0, q);
    String query = q < 0 ? "" : uri.substring(q);
    int idEnd = path.indexOf('/', PREFIX.length());
    if (idEnd > PREFIX.length() && path.startsWith("/v1/", idEnd)) {
      String rest = path.substring(idEnd + 4);
      // The engine decodes what it is sent: a path with anything but plain segments (an encoded
      // '/' or '.', a dot segment, matrix parameters) would be checked here as one route and
      // served there as another, so it has no deployment and is answered 404.
      if (plainSegments(path.substring(PREFIX.length(), idEnd)) && plainSegments(rest)) {
        return new Call(
            path.substring(PREFIX.length(), idEnd), rest, "/v1/" + rest, query, requestId, now);
      }
    }
    return new Call(null, "", "", "", requestId, now);
  }

  /** Segments of ASCII letters, digits, {@code _} and {@code -}, separated by single slashes. */
  static boolean plainSegments(String path) {
    boolean segmentEmpty = true;
    for (int i = 0; i < path.length(); i++) {
      char c = path.charAt(i);
      if (c == '/') {
        if (segmentEmpty) {
          return false;
        }
        segmentEmpty = true;
      } else if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '_'
          || c == '-') {
        segmentEmpty = false;
      } else {
        return false;
      }
    }
    return !segmentEmpty;
  }

  /** An async job's request: {@code route} ({@code v1/...}) is the path called on the worker. */
  static Call job(String deploymentId, String route, String requestId, long now) {
    String rest = route.startsWith("v1/") ? route.substring(3) : route;
    return new Call(deploymentId, rest, "/" + route, "", requestId, now);
  }
}
