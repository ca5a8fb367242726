package dev.gantry.gateway.auth;

import org.springframework.web.server.ServerWebExchange;

/** The authenticated key behind a request. */
public record Caller(String keyId, String tenantId, boolean admin) {
  static final String ATTRIBUTE = Caller.class.getName();

  public static Caller of(ServerWebExchange exchange) {
    Caller caller = exchange.getAttribute(ATTRIBUTE);
    if (caller == null) {
      throw new IllegalStateException("route is not behind the API key filter");
    }
    return caller;
  }
}
