package dev.gantry.infra.config;

import java.time.Clock;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/** Beans the adapters share. */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(GantryProperties.class)
public class InfraConfiguration {

  @Bean
  Clock clock() {
    return Clock.systemUTC();
  }
}
