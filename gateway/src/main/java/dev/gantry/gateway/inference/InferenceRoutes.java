package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.stereotype.Component;

/**
 * Puts the {@link InferenceProxy} in front of the WebFlux application as a Reactor Netty route, so
 * the data plane answers straight from the server's event loop. The proxy is looked up on the first
 * request rather than when the server is built, so the web server does not pull the data plane's
 * beans forward in the context's startup.
 */
@ConditionalOnGatewayRole
@Component
class InferenceRoutes implements WebServerFactoryCustomizer<NettyReactiveWebServerFactory> {
  private final ObjectProvider<InferenceProxy> proxy;
  private volatile InferenceProxy resolved;

  InferenceRoutes(ObjectProvider<InferenceProxy> proxy) {
    this.proxy = proxy;
  }

  @Override
  public void customize(NettyReactiveWebServerFactory factory) {
    factory.addRouteProviders(
        routes -> routes.route(InferenceProxy::handles, (req, res) -> proxy().apply(req, res)));
  }

  private InferenceProxy proxy() {
    InferenceProxy p = resolved;
    if (p == null) {
      p = proxy.getObject();
      resolved = p;
    }
    return p;
  }
}
