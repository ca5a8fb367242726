package dev.gantry.gateway.inference;

import dev.gantry.gateway.auth.BearerKeys;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.SocketAddress;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.springframework.http.HttpStatus;

/**
 * Every check a request passes before it may wait for a worker, in the order they run (as Spring
 * Cloud Gateway orders its filters):
 *
 * <ol>
 *   <li>on the head: the gateway is not shutting down; the API key ({@link BearerKeys}); the
 *       deployment is the caller's tenant's and is routed here (or may be, after the routing
 *       table's next read);
 *   <li>on the declared size: within the body size limit and the body budget ({@link BodyBudget});
 *   <li>on the body, once it is in: JSON where the route needs it, the deployment's model ({@link
 *       ModelCheck}), and what the request asks to generate ({@link RequestLimits}).
 * </ol>
 *
 * Each method returns what it found; the request's owner keeps it. Nothing here writes to the
 * request or to a connection.
 */
final class RequestChecks {
  private final BooleanSupplier closing;
  private final BearerKeys keys;
  private final RoutingTable routes;
  private final BodyBudget budget;
  private final long maxBodyBytes;
  private final RequestLimits limits;

  RequestChecks(
      BooleanSupplier closing,
      BearerKeys keys,
      RoutingTable routes,
      BodyBudget budget,
      long maxBodyBytes,
      RequestLimits limits) {
    this.closing = closing;
    this.keys = keys;
    this.routes = routes;
    this.budget = budget;
    this.maxBodyBytes = maxBodyBytes;
    this.limits = limits;
  }

  /**
   * What the head checks found.
   *
   * @param refusal the answer when the request cannot go on, else null
   * @param tenantId the caller's tenant (when the key was valid)
   * @param route the deployment's route; null with no refusal when it was not in the table: it is
   *     looked up again ({@link #resolve}) after the table's next read
   */
  record Head(InferenceException refusal, String tenantId, DeploymentRoute route) {
    static Head refused(InferenceException refusal) {
      return new Head(refusal, null, null);
    }
  }

  /** The checks on a request's head, in order. */
  Head head(HttpHeaders headers, String deploymentId, SocketAddress client) {
    // 1. The gateway takes no new request while it shuts down.
    if (closing.getAsBoolean()) {
      return Head.refused(
          new InferenceException(
              HttpStatus.SERVICE_UNAVAILABLE, "The gateway is shutting down, please retry"));
    }
    // 2. The API key, limited for addresses that keep failing.
    var outcome = keys.authenticate(headers.get(HttpHeaderNames.AUTHORIZATION), client);
    if (outcome.key() == null) {
      return Head.refused(
          outcome.retryAfterSeconds() > 0
              ? InferenceException.tooManyFailedAttempts(outcome.retryAfterSeconds())
              : InferenceException.unauthorized());
    }
    // 3. The deployment, of the caller's tenant: another tenant's is not found either.
    String tenantId = outcome.key().tenantId();
    if (deploymentId == null) {
      return Head.refused(InferenceException.notFound());
    }
    DeploymentRoute route = routes.find(deploymentId);
    if (route != null && !route.tenantId().equals(tenantId)) {
      return Head.refused(InferenceException.notFound());
    }
    return new Head(null, tenantId, route);
  }

  /**
   * The route of a deployment that was not in the table at the head, after the table's next read:
   * null when it is still not there (or not the tenant's), to be answered 404.
   */
  DeploymentRoute resolve(String deploymentId, String tenantId) {
    DeploymentRoute route = routes.find(deploymentId);
    return route == null || !route.tenantId().equals(tenantId) ? null : route;
  }

  /**
   * 4. The body's declared size: a buffer for it, counted against the body budget from the first
   * byte. A request whose deployment is not known yet is held against its tenant and the total
   * only.
   *
   * @param declared the {@code Content-Length}, or -1
   * @return what lets the body's bytes go (call {@link BodyBudget.Hold#releaseAll} when done)
   * @throws InferenceException 413 past the size limit, 429 when the budget cannot take it
   */
  BodyBuffer bodyBuffer(long declared, BodyBudget.Hold hold) {
    if (declared > maxBodyBytes) {
      throw InferenceException.tooLarge();
    }
    return new BodyBuffer(declared, maxBodyBytes, limit -> InferenceException.tooLarge(), hold);
  }

  /** A new, empty share of the body budget for a request of {@code tenantId} to {@code route}. */
  BodyBudget.Hold bodyHold(String tenantId, DeploymentRoute route) {
    return route == null
        ? budget.hold(tenantId, new AtomicLong())
        : budget.hold(route.tenantId(), route.bodyBytes);
  }

  /**
   * What the body checks found.
   *
   * @param refusal the answer when the request cannot go on, else null
   * @param streamed whether the request asks for a stream
   * @param outgoing the body to send to the worker (with an output cap added where needed)
   */
  record Body(InferenceException refusal, boolean streamed, byte[] outgoing) {}

  /** The checks on a request's whole body, in order; {@code rest} is the route after v1/. */
  Body body(DeploymentRoute route, String rest, byte[] body) {
    var fields = RequestFields.read(body);
    // 5. JSON where the route needs it, and the deployment's model.
    if (ModelCheck.required(rest) && !fields.json()) {
      return new Body(
          new InferenceException(HttpStatus.BAD_REQUEST, "The request body must be a JSON object"),
          fields.stream(),
          body);
    }
    InferenceException refused =
        ModelCheck.refusal(rest, fields.model(), route.spec().model(), "model");
    // 6. What it asks to generate, within the deployment's limits.
    if (refused == null) {
      refused = limits.check(route.spec(), rest, fields.sizes());
    }
    if (refused != null) {
      return new Body(refused, fields.stream(), body);
    }
    return new Body(null, fields.stream(), limits.capped(route.spec(), rest, body, fields.sizes()));
  }
}
