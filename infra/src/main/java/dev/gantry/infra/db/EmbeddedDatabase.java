package dev.gantry.infra.db;

import java.nio.file.Path;

/** The embedded default's database: H2 in PostgreSQL mode, so one set of migrations serves both. */
public final class EmbeddedDatabase {
  /** Makes H2 behave like PostgreSQL where our SQL depends on it. */
  public static final String POSTGRES_COMPATIBILITY =
      ";MODE=PostgreSQL;DATABASE_TO_LOWER=TRUE;DEFAULT_NULL_ORDERING=HIGH";

  private EmbeddedDatabase() {}

  public static String fileUrl(Path dataDir) {
    return "jdbc:h2:file:"
        + dataDir.resolve("db").resolve("gantry")
        + POSTGRES_COMPATIBILITY
        // Spring closes the pool at shutdown, after the last writes (usage records, worker rows);
        // H2's own exit hook would close the database under them.
        + ";DB_CLOSE_ON_EXIT=FALSE"
        // Each commit reaches the file before it returns (H2 otherwise writes up to half a second
        // later): an accepted job or a recorded end survives a killed process.
        + ";WRITE_DELAY=0"
        + ";USER=sa";
  }
}
