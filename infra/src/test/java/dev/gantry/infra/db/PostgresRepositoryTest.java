package dev.gantry.infra.db;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;

/**
 * The repositories on real PostgreSQL, at {@code GANTRY_TEST_POSTGRES_URL} (a JDBC URL with user
 * and password; {@code .ci/run} starts a server and sets it). Outside CI, without the variable, it
 * is skipped; in CI a missing database fails the build instead of silently testing nothing.
 */
class PostgresRepositoryTest extends RepositoryContract {
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
