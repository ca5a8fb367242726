package dev.gantry.app;

import com.zaxxer.hikari.HikariDataSource;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.db.EmbeddedDatabase;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Without {@code spring.datasource.url}, the embedded default's database: H2 in the data dir,
 * migrated by the same Flyway scripts as PostgreSQL.
 */
@Configuration(proxyBeanMethods = false)
@ConditionalOnExpression("'${spring.datasource.url:}'.isBlank()")
public class EmbeddedDatabaseConfiguration {

  @Bean
  HikariDataSource dataSource(GantryProperties properties) {
    var ds = new HikariDataSource();
    ds.setPoolName("gantry-embedded");
    ds.setJdbcUrl(EmbeddedDatabase.fileUrl(properties.dataDir().toAbsolutePath().normalize()));
    return ds;
  }
}
