package dev.gantry.infra.db;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import javax.sql.DataSource;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;

/**
 * Real PostgreSQL for the database contract tests, at {@code GANTRY_TEST_POSTGRES_URL} (a JDBC URL
 * with user and password; {@code .ci/run} starts a server and sets it). Outside CI, without the
 * variable, those tests are skipped; in CI a missing database fails the build instead of silently
 * testing nothing.
 */
public final class TestPostgres {
  private static final String URL = System.getenv("GANTRY_TEST_POSTGRES_URL");

  private TestPostgres() {}

  /** Skips the calling test class, or fails it in CI, when no database is configured. */
  public static void require() {
    if (URL == null || URL.isBlank()) {
      if ("true".equals(System.getenv("CI"))) {
        throw new IllegalStateException(
            "CI must set GANTRY_TEST_POSTGRES_URL to a PostgreSQL database");
      }
      assumeTrue(false, "GANTRY_TEST_POSTGRES_URL is not set");
    }
  }

  public static DataSource dataSource() {
    return new SimpleDriverDataSource(new org.postgresql.Driver(), URL);
  }
}
