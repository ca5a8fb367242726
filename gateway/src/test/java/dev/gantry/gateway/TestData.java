package dev.gantry.gateway;

import dev.gantry.infra.db.EmbeddedDatabase;
import java.io.IOException;
import java.nio.file.Files;
import org.springframework.test.context.DynamicPropertyRegistry;

/** Where a gateway test application keeps its data: a fresh data dir and an in-memory H2. */
public final class TestData {
  private TestData() {}

  /** A fresh data dir and the in-memory database {@code name}, for one test application. */
  public static void embedded(DynamicPropertyRegistry registry, String name) throws IOException {
    var dir = Files.createTempDirectory("gantry-" + name + "-test");
    registry.add("gantry.data-dir", dir::toString);
    registry.add(
        "spring.datasource.url",
        () ->
            "jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1" + EmbeddedDatabase.POSTGRES_COMPATIBILITY);
  }
}
