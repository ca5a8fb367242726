package dev.gantry.gateway.web;

import dev.gantry.infra.config.GantryProperties;
import org.springframework.stereotype.Component;
import org.springframework.web.server.ServerWebExchange;

/** The URL users reach this gateway on: configured, or taken from the request. */
@Component
public class BaseUrl {
  private final String configured;

  public BaseUrl(GantryProperties properties) {
    String url = properties.publicUrl();
    this.configured = url == null || url.isBlank() ? null : url.replaceAll("/+$", "");
  }

  public String of(ServerWebExchange exchange) {
    if (configured != null) {
      return configured;
    }
    var uri = exchange.getRequest().getURI();
    String port = uri.getPort() < 0 ? "" : ":" + uri.getPort();
    return uri.getScheme() + "://" + uri.getHost() + port;
  }
}
