package dev.gantry.infra.usage;

import dev.gantry.infra.db.TestPostgres;
import javax.sql.DataSource;
import org.junit.jupiter.api.BeforeAll;

/** Usage records on real PostgreSQL ({@link TestPostgres}). */
class PostgresUsageTest extends UsageContract {

  @BeforeAll
  static void requireDatabase() {
    TestPostgres.require();
  }

  @Override
  DataSource dataSource() {
    return TestPostgres.dataSource();
  }
}
