package dev.gantry.infra.usage;

import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.jdbc.core.JdbcTemplate;

/**
 * The usage pipeline's beans. The recorder is a {@code SmartLifecycle} (its writer thread starts
 * and stops with the context) and a {@code MeterBinder} (its counters join the meter registry when
 * there is one).
 */
@Configuration(proxyBeanMethods = false)
@EnableConfigurationProperties(UsageProperties.class)
public class UsageConfiguration {

  @Bean
  UsageRepository usageRepository(JdbcTemplate jdbcTemplate) {
    return new UsageRepository(jdbcTemplate);
  }

  @Bean
  UsageRecorder usageRecorder(UsageRepository usageRepository, UsageProperties properties) {
    return new UsageRecorder(usageRepository, properties);
  }
}
