package dev.gantry.infra.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.springframework.jdbc.core.JdbcTemplate;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The usage table and the batching recorder, run once per database (the embedded H2 and real
 * PostgreSQL), both built by the application's migrations. Waits are bounded polls on the table.
 */
@Timeout(60)
abstract class UsageContract {
  static final Instant T0 = Instant.parse("2026-03-01T12:00:00Z");
  static final Duration WAIT = Duration.ofSeconds(10);

  JdbcClient jdbc;
  UsageRepository repository;
  final List<UsageRecorder> recorders = new ArrayList<>();

  abstract DataSource dataSource();

  @BeforeEach
  void migrate() {
    var ds = dataSource();
    Flyway.configure().dataSource(ds).cleanDisabled(false).load().clean();
    Flyway.configure().dataSource(ds).load().migrate();
    jdbc = JdbcClient.create(ds);
    repository = new UsageRepository(new JdbcTemplate(ds));
  }

  @AfterEach
  void stopRecorders() {
    recorders.forEach(UsageRecorder::stop);
  }

  UsageRecorder recorder(int capacity, int batchSize, Duration flushInterval) {
    var recorder =
        new UsageRecorder(repository, new UsageProperties(capacity, batchSize, flushInterval));
    recorders.add(recorder);
    return recorder;
  }

  static UsageRecord usage(String requestId, int promptTokens, int completionTokens) {
    return new UsageRecord(
        requestId,
        "dep_aaaaaaaa",
        "acme",
        "dep_aaaaaaaa-w1",
        "chat/completions",
        200,
        promptTokens,
        completionTokens,
        false,
        T0,
        120);
  }

  long rows() {
    return repository.count();
  }

  @Test
  void aBatchIsStoredAndReadBackForBilling() {
    var streamed =
        new UsageRecord(
            "req_2",
            "dep_aaaaaaaa",
            "acme",
            "dep_aaaaaaaa-w2",
            "completions",
            200,
            7,
            90,
            true,
            T0.plusSeconds(1),
            2_500);
    var neverReachedAWorker =
        new UsageRecord(
            "req_3",
            "dep_aaaaaaaa",
            "acme",
            null,
            "chat/completions",
            429,
            0,
            0,
            false,
            T0.plusSeconds(2),
            3);
    var otherTenant =
        new UsageRecord(
            "req_4",
            "dep_bbbbbbbb",
            "globex",
            "dep_bbbbbbbb-w1",
            "embeddings",
            200,
            50,
            0,
            false,
            T0,
            15);
    repository.insertBatch(
        List.of(usage("req_1", 10, 20), streamed, neverReachedAWorker, otherTenant));

    assertThat(repository.listForDeployment("dep_aaaaaaaa"))
        .containsExactly(usage("req_1", 10, 20), streamed, neverReachedAWorker);
    assertThat(repository.sumTokens("acme", T0, T0.plusSeconds(2)))
        .isEqualTo(new UsageRepository.TokenTotals(2, 17, 110));
    assertThat(repository.sumTokens("acme", T0.plusSeconds(3), T0.plusSeconds(9)))
        .isEqualTo(new UsageRepository.TokenTotals(0, 0, 0));
  }

  @Test
  void aFullBatchIsWrittenWithoutWaitingForTheInterval() {
    var recorder = recorder(100, 5, Duration.ofHours(1));
    recorder.start();
    for (int i = 0; i < 5; i++) {
      recorder.record(usage("req_" + i, 1, 1));
    }
    await().atMost(WAIT).until(() -> rows() == 5);
    assertThat(recorder.written()).isEqualTo(5);
    assertThat(recorder.buffered()).isZero();
  }

  @Test
  void fewerRecordsThanABatchAreWrittenAfterTheInterval() {
    var recorder = recorder(100, 1000, Duration.ofMillis(100));
    recorder.start();
    for (int i = 0; i < 3; i++) {
      recorder.record(usage("req_" + i, 1, 1));
    }
    await().atMost(WAIT).until(() -> rows() == 3);
    recorder.record(usage("req_3", 1, 1));
    await().atMost(WAIT).until(() -> rows() == 4);
  }

  @Test
  void stoppingWritesWhatIsLeftAndLaterRecordsAreDropped() {
    var recorder = recorder(100, 1000, Duration.ofHours(1));
    recorder.start();
    for (int i = 0; i < 7; i++) {
      recorder.record(usage("req_" + i, 1, 1));
    }
    recorder.stop();
    assertThat(rows()).isEqualTo(7);
    assertThat(recorder.isRunning()).isFalse();

    recorder.record(usage("late", 1, 1));
    assertThat(recorder.dropped()).isEqualTo(1);
  }

  @Test
  void aFullBufferDropsAndCountsInsteadOfBlocking() {
    var recorder = recorder(3, 1000, Duration.ofHours(1));
    for (int i = 0; i < 5; i++) {
      recorder.record(usage("req_" + i, 1, 1));
    }
    assertThat(recorder.dropped()).isEqualTo(2);
    assertThat(recorder.buffered()).isEqualTo(3);

    assertThat(recorder.flush()).isTrue();
    assertThat(rows()).isEqualTo(3);
    assertThat(recorder.written()).isEqualTo(3);
    recorder.record(usage("req_5", 1, 1));
    assertThat(recorder.dropped()).isEqualTo(2);
  }

  @Test
  void aDatabaseFailureKeepsTheRecordsUntilItRecovers() {
    var recorder = recorder(100, 4, Duration.ofMillis(20));
    recorder.start();
    jdbc.sql("alter table usage_records rename to usage_records_away").update();
    for (int i = 0; i < 10; i++) {
      recorder.record(usage("req_" + i, 1, 1));
    }
    await().atMost(WAIT).until(() -> recorder.failedFlushes() > 0);
    for (int i = 10; i < 15; i++) {
      recorder.record(usage("req_" + i, 1, 1));
    }
    assertThat(recorder.flush()).isFalse();
    assertThat(recorder.buffered()).isEqualTo(15);
    assertThat(recorder.written()).isZero();

    jdbc.sql("alter table usage_records_away rename to usage_records").update();
    // Either this flush or the writer's next retry writes them; never both (one writer at a time).
    recorder.flush();
    await().atMost(WAIT).until(() -> rows() == 15);
    assertThat(
            jdbc.sql("select count(distinct request_id) from usage_records")
                .query(Long.class)
                .single())
        .isEqualTo(15);
    assertThat(recorder.written()).isEqualTo(15);
    assertThat(recorder.dropped()).isZero();
    assertThat(recorder.buffered()).isZero();
  }

  @Test
  void aRecordTheTableRefusesIsSetAsideWithoutHoldingBackTheOthers() {
    var recorder = recorder(100, 1000, Duration.ofHours(1));
    recorder.record(usage("req_1", 1, 1));
    recorder.record(usage("x".repeat(65), 1, 1));
    recorder.record(usage("req_3", 1, 1));

    assertThat(recorder.flush()).isTrue();
    assertThat(repository.listForDeployment("dep_aaaaaaaa"))
        .extracting(UsageRecord::requestId)
        .containsExactlyInAnyOrder("req_1", "req_3");
    assertThat(recorder.rejected()).isEqualTo(1);
    assertThat(recorder.buffered()).isZero();
  }
}
