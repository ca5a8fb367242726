package dev.gantry.gateway.auth;

import dev.gantry.gateway.error.ErrorBodies;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.auth.ApiKeyCache;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * First step of every protected route: a bearer key that is well formed, known and not revoked.
 * Every failure answers the same 401 body, so a caller learns nothing about which part was wrong.
 * Keys are checked against the in-memory {@link ApiKeyCache}, so this runs on the event loop and
 * costs no database call.
 *
 * <p>Whether a path is protected is decided on the path as Spring will route it, and a protected
 * path in any but its plain spelling is refused (400), so no encoding of a protected route skips
 * this filter. A source address that fails too often is answered 429 ({@link FailedAuthLimiter}).
 */
@ConditionalOnGatewayRole
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
public class ApiKeyAuthFilter implements WebFilter {
  static final String MALFORMED = "The request path is not validly percent-encoded";
  static final String NOT_CANONICAL =
      "The request path must be plain: no percent-encoding, matrix parameters, empty or dot"
          + " segments";

  static final String TOO_MANY_FAILURES =
      "Too many failed authentication attempts from this address, retry later";

  private final BearerKeys keys;

  public ApiKeyAuthFilter(ApiKeyCache keys, FailedAuthLimiter limiter) {
    this.keys = new BearerKeys(keys, limiter);
  }

  /** The Prometheus exposition: operators' metrics, served to an admin key only. */
  static final String METRICS = "/actuator/prometheus";

  /** Whether a route needs a key; the OpenAPI document marks the others public from it. */
  public static boolean protectedPath(String path) {
    return path.startsWith("/api/")
        || path.startsWith("/openai/")
        || path.startsWith("/deployment/")
        || path.startsWith(METRICS);
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
    String raw = exchange.getRequest().getPath().pathWithinApplication().value();
    String routed = RequestPaths.routed(exchange.getRequest().getPath());
    // Decided on the path as it will be routed (decoded, without matrix parameters, and even with
    // doubled slashes), so no spelling of a protected route gets past unauthenticated.
    String path = routed == null ? raw : RequestPaths.collapsed(routed);
    if (!protectedPath(path) && !protectedPath(raw)) {
      return routed == null
          ? ErrorBodies.write(exchange, path, HttpStatus.BAD_REQUEST, MALFORMED)
          : chain.filter(exchange);
    }
    if (!RequestPaths.canonical(raw, routed)) {
      // Protected routes are only ever written plainly; any other spelling is refused before it
      // can be read differently by the router, a controller or an engine.
      return ErrorBodies.write(exchange, path, HttpStatus.BAD_REQUEST, NOT_CANONICAL);
    }
    var outcome =
        keys.authenticate(
            exchange.getRequest().getHeaders().getFirst(HttpHeaders.AUTHORIZATION),
            exchange.getRequest().getRemoteAddress());
    if (outcome.key() == null) {
      if (outcome.retryAfterSeconds() > 0) {
        exchange
            .getResponse()
            .getHeaders()
            .set(HttpHeaders.RETRY_AFTER, Long.toString(outcome.retryAfterSeconds()));
        return ErrorBodies.write(exchange, path, HttpStatus.TOO_MANY_REQUESTS, TOO_MANY_FAILURES);
      }
      return unauthorized(exchange, path);
    }
    var key = outcome.key();
    if ((path.startsWith(METRICS) || raw.startsWith(METRICS)) && !key.admin()) {
      // Metrics name every deployment of every tenant.
      return ErrorBodies.write(
          exchange, path, HttpStatus.FORBIDDEN, "The metrics need an admin API key");
    }
    exchange
        .getAttributes()
        .put(Caller.ATTRIBUTE, new Caller(key.id(), key.tenantId(), key.admin()));
    return chain.filter(exchange);
  }

  private static Mono<Void> unauthorized(ServerWebExchange exchange, String path) {
    exchange.getResponse().getHeaders().set(HttpHeaders.WWW_AUTHENTICATE, "Bearer");
    return ErrorBodies.write(exchange, path, HttpStatus.UNAUTHORIZED, "Invalid API key");
  }
}
