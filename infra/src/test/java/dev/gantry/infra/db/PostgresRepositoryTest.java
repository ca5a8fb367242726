package dev.gantry.infra.db;

import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;

/** The repositories on real PostgreSQL ({@link TestPostgres}). */
class PostgresRepositoryTest extends RepositoryContract {

  @BeforeAll
  static void requireDatabase() {
    TestPostgres.require();
  }

  @Override
  DataSource dataSource() {
    return TestPostgres.dataSource();
  }
}
