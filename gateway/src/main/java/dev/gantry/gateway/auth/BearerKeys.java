package dev.gantry.gateway.auth;

import dev.gantry.infra.auth.ApiKeyCache;
import dev.gantry.infra.auth.ApiKeyRecord;
import java.net.SocketAddress;

/**
 * The one reading of an {@code Authorization: Bearer <key>} header, for the management API's filter
 * and the data plane alike: the caller's key, or why there is none. Only failures are limited: a
 * valid key behind the same address (a NAT, a load balancer) as someone failing is still served.
 */
public final class BearerKeys {
  private final ApiKeyCache keys;
  private final FailedAuthLimiter limiter;

  public BearerKeys(ApiKeyCache keys, FailedAuthLimiter limiter) {
    this.keys = keys;
    this.limiter = limiter;
  }

  /**
   * What a request carrying {@code authorization} (the header's value, or null) from {@code client}
   * authenticates as. A failure is counted against the address, unless it is already refused.
   */
  public Outcome authenticate(String authorization, SocketAddress client) {
    var key =
        authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)
            ? null
            : keys.authenticate(authorization.substring(7).trim()).orElse(null);
    if (key != null) {
      return new Outcome(key, 0);
    }
    long wait = limiter.retryAfterSeconds(client);
    if (wait > 0) {
      return new Outcome(null, wait);
    }
    limiter.failed(client);
    return new Outcome(null, 0);
  }

  /**
   * @param key the caller's key, or null
   * @param retryAfterSeconds without a key: how long the address is refused for its failures (429),
   *     or 0 for a plain 401
   */
  public record Outcome(ApiKeyRecord key, long retryAfterSeconds) {}
}
