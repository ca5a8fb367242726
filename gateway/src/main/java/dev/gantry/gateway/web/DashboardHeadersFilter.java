package dev.gantry.gateway.web;

import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.server.WebFilter;
import org.springframework.web.server.WebFilterChain;
import reactor.core.publisher.Mono;

/**
 * Hardening headers for the dashboard's static pages ({@code /}, {@code /index.html}, {@code
 * /ui/**}). The dashboard is public like Swagger UI and holds the user's API key in the page, so it
 * is served with a policy that allows only its own scripts, styles and API calls (no inline script,
 * no other origin, no framing), keeps its URLs out of referrers and forbids MIME sniffing. The API
 * key itself is checked only on {@code /api/**} by {@code ApiKeyAuthFilter}.
 */
@ConditionalOnGatewayRole
@Component
@Order(Ordered.HIGHEST_PRECEDENCE + 5)
public class DashboardHeadersFilter implements WebFilter {
  static final String CONTENT_SECURITY_POLICY =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
          + " connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

  /** Whether a path is one of the dashboard's own pages or assets. */
  static boolean dashboardPath(String path) {
    return path.equals("/") || path.equals("/index.html") || path.startsWith("/ui/");
  }

  @Override
  public Mono<Void> filter(ServerWebExchange exchange, WebFilterChain chain) {
    if (dashboardPath(exchange.getRequest().getPath().pathWithinApplication().value())) {
      var headers = exchange.getResponse().getHeaders();
      headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
      headers.set("X-Content-Type-Options", "nosniff");
      headers.set("Referrer-Policy", "no-referrer");
      headers.set("X-Frame-Options", "DENY");
      // A new deployment of the jar must not be hidden behind a cached old page.
      headers.set(HttpHeaders.CACHE_CONTROL, "no-cache");
    }
    return chain.filter(exchange);
  }
}
