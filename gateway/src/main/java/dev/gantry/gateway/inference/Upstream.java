package dev.gantry.gateway.inference;

import java.net.URI;

/**
 * One healthy worker in the routing table. Its in-flight count is guarded by the owning {@link
 * DeploymentRoute}'s lock; the activity fields are read by the reporter thread.
 */
final class Upstream {
  final String workerId;
  final String baseUrl;

  /** Where {@link #baseUrl} points: the host and port to connect to, and its path (or empty). */
  final String host;

  final int port;
  final String basePath;

  /** Requests this gateway has on it now; never above the deployment's concurrency. */
  int inFlight;

  /** No longer healthy (draining or gone): takes nothing new, kept until its requests finish. */
  boolean leaving;

  /** Until when it gets no new requests, after it refused a connection. */
  long excludedUntilMillis;

  /** When a request on it last finished (epoch millis). */
  volatile long lastUsedMillis;

  /** The last activity time told to its workflow, and when that was told. */
  long reportedUsedMillis;

  long reportedAtMillis;

  /**
   * When this gateway first handed it a request (epoch millis), 0 until then: the last step of the
   * worker's cold start. Set once under the route's lock, read by the {@link FirstRouteRecorder}.
   */
  volatile long firstRoutedMillis;

  /** The recorder stored {@link #firstRoutedMillis}; read and written by its thread only. */
  boolean firstRoutedStored;

  Upstream(String workerId, String endpoint) {
    this.workerId = workerId;
    this.baseUrl = normalized(endpoint);
    URI uri = URI.create(baseUrl);
    this.host = uri.getHost();
    this.port = uri.getPort() > 0 ? uri.getPort() : 80;
    this.basePath = uri.getRawPath() == null ? "" : uri.getRawPath();
  }

  /**
   * Notes that it was handed a request at {@code nowMillis}. Only the first call counts, and it
   * only sets a field: the data plane never waits for the database, which the {@link
   * FirstRouteRecorder} writes later, from its own thread.
   */
  void firstRouted(long nowMillis) {
    if (firstRoutedMillis == 0) {
      firstRoutedMillis = nowMillis;
    }
  }

  boolean servedAt(String endpoint) {
    return baseUrl.equals(normalized(endpoint));
  }

  private static String normalized(String endpoint) {
    return endpoint.endsWith("/") ? endpoint.substring(0, endpoint.length() - 1) : endpoint;
  }
}
