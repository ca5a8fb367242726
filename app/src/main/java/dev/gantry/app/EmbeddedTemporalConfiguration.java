package dev.gantry.app;

import dev.gantry.infra.config.GantryProperties;
import io.temporal.testserver.TestServer;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.ArrayList;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.config.BeanFactoryPostProcessor;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The embedded default's Temporal: the Java test server bound to a port, in real time (no time
 * skipping), reachable by other Temporal tools on that port. Its state lives in memory, so after a
 * restart {@link WorkflowReconciler} restarts each deployment's workflow from the database.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnExpression("'${gantry.temporal.target:}'.isBlank()")
public class EmbeddedTemporalConfiguration {
  static final String BEAN = "embeddedTemporalServer";
  private static final Logger log = LoggerFactory.getLogger(EmbeddedTemporalConfiguration.class);

  /** Holds the running server; closing it frees the port. */
  public record EmbeddedTemporalServer(int port, Closeable server) implements Closeable {
    @Override
    public void close() throws IOException {
      server.close();
    }
  }

  @Bean(name = BEAN, destroyMethod = "close")
  EmbeddedTemporalServer embeddedTemporalServer(GantryProperties properties) {
    int port = properties.temporal().embeddedPort();
    try (var probe = new ServerSocket(port, 1, InetAddress.getByName("0.0.0.0"))) {
      probe.setReuseAddress(true);
    } catch (IOException e) {
      throw new IllegalStateException(
          "Port "
              + port
              + " for the embedded Temporal server is already in use. Stop what uses it, set"
              + " gantry.temporal.embedded-port (GANTRY_TEMPORAL_EMBEDDED_PORT) to a free port, or"
              + " set gantry.temporal.target to use an external Temporal cluster.");
    }
    var server = TestServer.createPortBoundServer(port, true);
    log.info("Embedded Temporal dev server listening on port {} (namespace 'default')", port);
    return new EmbeddedTemporalServer(port, server);
  }

  /** The starter's service stubs must not connect before the embedded server listens. */
  @Bean
  static BeanFactoryPostProcessor temporalStubsWaitForEmbeddedServer() {
    return factory -> {
      for (String name :
          new String[] {"temporalServiceStubsTemplate", "temporalWorkflowServiceStubs"}) {
        if (factory.containsBeanDefinition(name)) {
          var definition = factory.getBeanDefinition(name);
          var dependsOn = new ArrayList<String>();
          if (definition.getDependsOn() != null) {
            dependsOn.addAll(Arrays.asList(definition.getDependsOn()));
          }
          dependsOn.add(BEAN);
          definition.setDependsOn(dependsOn.toArray(String[]::new));
        }
      }
    };
  }
}
