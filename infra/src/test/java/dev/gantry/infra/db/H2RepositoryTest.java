package dev.gantry.infra.db;

import javax.sql.DataSource;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;

/** The repositories on the embedded database, in the mode the application uses. */
class H2RepositoryTest extends RepositoryContract {
  @Override
  DataSource dataSource() {
    return new SimpleDriverDataSource(
        new org.h2.Driver(),
        "jdbc:h2:mem:repo;DB_CLOSE_DELAY=-1" + EmbeddedDatabase.POSTGRES_COMPATIBILITY,
        "sa",
        "");
  }
}
