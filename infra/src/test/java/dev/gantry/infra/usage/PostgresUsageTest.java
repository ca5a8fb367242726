package dev.gantry.infra.usage;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;

/**
 * Usage records on real PostgreSQL at {@code GANTRY_TEST_POSTGRES_URL}, like {@code
 * PostgresRepositoryTest}: skipped locally without it, a failure in CI.
 */
class PostgresUsageTest extends UsageContract {
  static final String URL = System.getenv("GANTRY_TEST_POSTGRES_URL");

  @BeforeAll
  static void requireDatabase() {
    if (URL == null || URL.isBlank()) {
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(
            "CI must set GANTRY_TEST_POSTGRES_URL to a PostgreSQL database");
      }
      assumeTrue(false, "GANTRY_TEST_POSTGRES_URL is not set");
    }
  }

  @Override
  DataSource dataSource() {
    return new SimpleDriverDataSource(new org.postgresql.Driver(), URL);
  }
}
