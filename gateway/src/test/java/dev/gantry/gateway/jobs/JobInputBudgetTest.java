package dev.gantry.gateway.jobs;

import static org.assertj.core.api.Assertions.assertThat;

import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRepository;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JobInputBudgetTest {
  /** What the database says is stored, per tenant. */
  final Map<String, Long> stored = new HashMap<>();

  final JobRepository jobs =
      new JobRepository(null) {
        @Override
        public long storedInputBytes(String tenantId) {
          return stored.getOrDefault(tenantId, 0L);
        }

        @Override
        public long storedInputBytes() {
          return stored.values().stream().mapToLong(Long::longValue).sum();
        }
      };

  final JobInputBudget budget =
      new JobInputBudget(
          jobs,
          new GantryProperties.Jobs(
              Duration.ofMinutes(30),
              Duration.ofHours(1),
              1000,
              1 << 24,
              Duration.ofSeconds(30),
              100,
              150));

  @Test
  void aTenantPastItsBoundIsRefusedAndOthersAreNot() {
    stored.put("acme", 80L);
    assertThat(budget.reserve("acme", 21)).isNull();
    try (var fits = budget.reserve("acme", 20)) {
      assertThat(fits).isNotNull();
    }
    assertThat(budget.reserve("globex", 60)).as("room left in all: 70").isNotNull();
  }

  @Test
  void submitsBetweenTheirCheckAndTheirInsertCountAgainstTheBounds() {
    var first = budget.reserve("acme", 60);
    assertThat(first).isNotNull();
    assertThat(budget.reserve("acme", 60)).as("the first is not stored yet").isNull();
    var other = budget.reserve("globex", 80);
    assertThat(other).isNotNull();
    assertThat(budget.reserve("initech", 20)).as("the total, 60 + 80 pending").isNull();
    // The first submit's insert ends: what it stored is in the database, no longer pending.
    stored.put("acme", 60L);
    first.close();
    assertThat(budget.pending()).isEqualTo(80);
    assertThat(budget.reserve("acme", 60)).as("60 stored + 60").isNull();
    other.close();
    assertThat(budget.pending()).isZero();
    assertThat(budget.reserve("initech", 20)).isNotNull();
  }
}
