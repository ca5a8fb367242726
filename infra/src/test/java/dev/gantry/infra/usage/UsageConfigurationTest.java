package dev.gantry.infra.usage;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.db.EmbeddedDatabase;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.datasource.SimpleDriverDataSource;

class UsageConfigurationTest {
  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withBean(
              JdbcTemplate.class,
              () ->
                  new JdbcTemplate(
                      new SimpleDriverDataSource(
                          new org.h2.Driver(),
                          "jdbc:h2:mem:usage-config" + EmbeddedDatabase.POSTGRES_COMPATIBILITY,
                          "sa",
                          "")))
          .withUserConfiguration(UsageConfiguration.class);

  @Test
  void defaultsAndOverridesBindAndTheWriterRunsWithTheContext() {
    runner.run(
        ctx -> {
          var properties = ctx.getBean(UsageProperties.class);
          assertThat(properties)
              .isEqualTo(new UsageProperties(100_000, 5000, Duration.ofSeconds(1)));
          assertThat(ctx.getBean(UsageRecorder.class).isRunning()).isTrue();
        });
    runner
        .withPropertyValues("gantry.usage.batch-size=50", "gantry.usage.flush-interval=250ms")
        .run(
            ctx ->
                assertThat(ctx.getBean(UsageProperties.class))
                    .isEqualTo(new UsageProperties(100_000, 50, Duration.ofMillis(250))));
    runner.withPropertyValues("gantry.usage.batch-size=0").run(ctx -> assertThat(ctx).hasFailed());
  }

  @Test
  void countersAreMeters() {
    var registry = new SimpleMeterRegistry();
    var recorder = new UsageRecorder(null, new UsageProperties(1, 10, Duration.ofSeconds(1)));
    recorder.bindTo(registry);
    recorder.record(UsageContract.usage("req_1", 1, 1));
    recorder.record(UsageContract.usage("req_2", 1, 1));
    assertThat(
            registry.get("gantry.usage.records").tag("result", "dropped").functionCounter().count())
        .isEqualTo(1);
    assertThat(registry.get("gantry.usage.buffered").gauge().value()).isEqualTo(1);
  }
}
