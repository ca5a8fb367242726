package dev.gantry.infra.usage;

import java.time.Instant;
import java.util.Objects;

/**
 * What one completed inference request used, as billing and usage reports read it.
 *
 * @param requestId the gateway's id of the request
 * @param deploymentId the deployment the caller addressed
 * @param tenantId the tenant of the caller's API key
 * @param workerId the worker that served it; null when it never reached one (e.g. a 429)
 * @param route the OpenAI route, e.g. {@code chat/completions}
 * @param status the HTTP status answered to the caller
 * @param promptTokens prompt tokens the engine reported; 0 when it reported none
 * @param completionTokens completion tokens the engine reported; 0 when it reported none
 * @param streamed whether the answer was a {@code text/event-stream}
 * @param startedAt when the gateway received the request
 * @param durationMs from receipt until the last byte of the answer
 * @param ttftMs from receipt until the first byte of the worker's answer (a stream's first event);
 *     null when no worker answered
 */
public record UsageRecord(
    String requestId,
    String deploymentId,
    String tenantId,
    String workerId,
    String route,
    int status,
    int promptTokens,
    int completionTokens,
    boolean streamed,
    Instant startedAt,
    long durationMs,
    Long ttftMs) {

  /** A record without a time to first byte. */
  public UsageRecord(
      String requestId,
      String deploymentId,
      String tenantId,
      String workerId,
      String route,
      int status,
      int promptTokens,
      int completionTokens,
      boolean streamed,
      Instant startedAt,
      long durationMs) {
    this(
        requestId,
        deploymentId,
        tenantId,
        workerId,
        route,
        status,
        promptTokens,
        completionTokens,
        streamed,
        startedAt,
        durationMs,
        null);
  }

  public UsageRecord {
    Objects.requireNonNull(requestId, "requestId");
    Objects.requireNonNull(deploymentId, "deploymentId");
    Objects.requireNonNull(tenantId, "tenantId");
    Objects.requireNonNull(route, "route");
    Objects.requireNonNull(startedAt, "startedAt");
  }
}
