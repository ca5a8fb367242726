package dev.gantry.gateway.inference;

import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.reactor.netty.NettyReactiveWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;
import reactor.netty.NettyPipeline;

/**
 * Puts an {@link InferenceConnection} right after the HTTP codec of every server connection, so the
 * data plane answers {@code /openai/**} straight from the event loop and WebFlux never sees those
 * requests. The proxy is looked up on the first connection rather than when the server is built, so
 * the web server does not pull the data plane's beans forward in the context's startup.
 *
 * <p>Before the codec and between it and the data plane, {@link RequestTimeouts} time what clients
 * send, on every request the server takes.
 *
 * <p>On shutdown, before the web server stops, new inference requests are answered 503 and the ones
 * under way are given up to {@code gantry.gateway.shutdown-drain} to finish (Reactor Netty's
 * graceful shutdown does not know about them). The drain is short of the time a platform may take
 * to exit: a stream still running after it is cut when its engine stops.
 */
@ConditionalOnGatewayRole
@Component
class InferenceRoutes
    implements WebServerFactoryCustomizer<NettyReactiveWebServerFactory>, SmartLifecycle {
  private static final Logger log = LoggerFactory.getLogger(InferenceRoutes.class);

  private final ObjectProvider<InferenceProxy> proxy;
  private final GantryProperties.Gateway settings;
  private volatile InferenceProxy resolved;
  private volatile boolean running;

  InferenceRoutes(ObjectProvider<InferenceProxy> proxy, GantryProperties properties) {
    this.proxy = proxy;
    this.settings = properties.gateway();
  }

  @Override
  public void customize(NettyReactiveWebServerFactory factory) {
    factory.addServerCustomizers(
        server ->
            server.doOnChannelInit(
                (observer, channel, remote) -> {
                  if (channel.pipeline().get(NettyPipeline.HttpCodec) != null) {
                    var timeouts =
                        new RequestTimeouts(
                            settings.requestHeaderTimeout(),
                            settings.requestBodyTimeout(),
                            settings.keepAliveTimeout());
                    channel
                        .pipeline()
                        .addAfter(
                            NettyPipeline.HttpCodec,
                            InferenceConnection.NAME,
                            new InferenceConnection(proxy()))
                        .addAfter(
                            NettyPipeline.HttpCodec, RequestTimeouts.MESSAGES, timeouts.messages)
                        .addBefore(NettyPipeline.HttpCodec, RequestTimeouts.BYTES, timeouts.bytes);
                  }
                }));
  }

  private InferenceProxy proxy() {
    InferenceProxy p = resolved;
    if (p == null) {
      p = proxy.getObject();
      resolved = p;
    }
    return p;
  }

  @Override
  public void start() {
    running = true;
  }

  @Override
  public void stop() {
    running = false;
    InferenceProxy p = resolved;
    if (p == null) {
      return;
    }
    p.closing();
    long deadline = System.nanoTime() + settings.shutdownDrain().toNanos();
    while (p.inFlight() > 0 && System.nanoTime() - deadline < 0) {
      LockSupport.parkNanos(20_000_000L);
    }
    if (p.inFlight() > 0) {
      log.warn("{} inference requests were still under way at shutdown", p.inFlight());
    }
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  /** Before the routing table (which stops at DEFAULT_PHASE - 200) and the web server. */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE - 150;
  }
}
