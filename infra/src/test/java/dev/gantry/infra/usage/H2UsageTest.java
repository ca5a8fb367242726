package dev.gantry.infra.usage;

import dev.gantry.infra.db.EmbeddedDatabase;
import javax.sql.DataSource;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;

/** Usage records on the embedded database, in the mode the application uses. */
class H2UsageTest extends UsageContract {
  @Override
  DataSource dataSource() {
    return new SimpleDriverDataSource(
        new org.h2.Driver(),
        "jdbc:h2:mem:usage;DB_CLOSE_DELAY=-1" + EmbeddedDatabase.POSTGRES_COMPATIBILITY,
        "sa",
        "");
  }
}
