package dev.gantry.infra.db;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.gantry.api.deployment.DeploymentSpec;
import dev.gantry.api.deployment.DeploymentStatus;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.api.job.JobStatus;
import dev.gantry.api.worker.WorkerStatus;
import dev.gantry.infra.auth.ApiKeyRepository;
import dev.gantry.infra.auth.ApiKeys;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.jobs.JobRecord;
import dev.gantry.infra.jobs.JobRepository;
import dev.gantry.infra.secrets.SecretStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Random;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;
import org.springframework.dao.DuplicateKeyException;
import org.springframework.jdbc.core.simple.JdbcClient;

/**
 * The repositories' behaviour, run once per database: the embedded H2 and real PostgreSQL, both
 * built by the same Flyway migrations the application runs.
 */
abstract class RepositoryContract {
  @TempDir Path dataDir;

  JdbcClient jdbc;
  MutableClock clock;
  DeploymentRepository deployments;
  WorkerRepository workers;
  ApiKeyRepository keyRepository;
  ApiKeys apiKeys;
  SecretStore secrets;
  JobRepository jobs;

  abstract DataSource dataSource();

  /** A clock tests move by hand, so ordering by time is deterministic. */
  static final class MutableClock extends Clock {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }

    void advanceSeconds(long seconds) {
      now = now.plusSeconds(seconds);
    }
  }

  static GantryProperties properties(Path dataDir) {
    var source = new MapConfigurationPropertySource(Map.of("gantry.data-dir", dataDir.toString()));
    return new Binder(source).bind("gantry", GantryProperties.class).get();
  }

  @BeforeEach
  void migrate() {
    var ds = dataSource();
    Flyway.configure().dataSource(ds).cleanDisabled(false).load().clean();
    Flyway.configure().dataSource(ds).load().migrate();
    jdbc = JdbcClient.create(ds);
    clock = new MutableClock();
    deployments = new DeploymentRepository(jdbc, clock);
    workers = new WorkerRepository(jdbc, clock);
    keyRepository = new ApiKeyRepository(jdbc, clock);
    apiKeys = new ApiKeys(keyRepository, clock);
    secrets = new SecretStore(jdbc, clock, properties(dataDir));
    jobs = new JobRepository(jdbc);
  }

  static DeploymentSpec spec(String name) {
    return new DeploymentSpec(
        name,
        "Qwen/Qwen2.5-7B-Instruct",
        Framework.VLLM,
        new GpuSpec("H100", 1, List.of("A100-80GB")),
        0,
        3,
        8,
        300,
        60,
        50,
        List.of("HF_TOKEN"),
        List.of("--enforce-eager"));
  }

  @Test
  void deploymentsRoundTripAndStayWithinTheirTenant() {
    keyRepository.ensureTenant("a");
    keyRepository.ensureTenant("b");
    deployments.insert("dep_aaaaaaaa", "a", spec("first"), null);
    clock.advanceSeconds(5);
    deployments.insert("dep_bbbbbbbb", "a", spec("second"), null);
    deployments.insert("dep_cccccccc", "b", spec("theirs"), null);

    var found = deployments.find("a", "dep_aaaaaaaa").orElseThrow();
    assertThat(found.spec()).isEqualTo(spec("first"));
    assertThat(found.status()).isEqualTo(DeploymentStatus.STARTING);
    assertThat(found.createdAt()).isEqualTo(Instant.parse("2026-01-01T00:00:00Z"));
    assertThat(deployments.find("b", "dep_aaaaaaaa")).isEmpty();
    assertThat(deployments.list("a"))
        .extracting(DeploymentRecord::id)
        .containsExactly("dep_bbbbbbbb", "dep_aaaaaaaa");
    assertThat(deployments.list("b"))
        .extracting(DeploymentRecord::id)
        .containsExactly("dep_cccccccc");
  }

  @Test
  void downloadProgressIsRecordedWithoutTouchingUpdatedAt() {
    keyRepository.ensureTenant("a");
    deployments.insert("dep_aaaaaaaa", "a", spec("first"), null);
    assertThat(deployments.find("a", "dep_aaaaaaaa").orElseThrow().download()).isNull();
    clock.advanceSeconds(7);

    assertThat(deployments.updateDownloadProgress("dep_aaaaaaaa", 5_000_000_000L, 15_000_000_000L))
        .isTrue();
    assertThat(deployments.updateDownloadProgress("dep_missing1", 1, 2)).isFalse();

    var found = deployments.find("a", "dep_aaaaaaaa").orElseThrow();
    assertThat(found.download())
        .isEqualTo(new DeploymentRecord.DownloadProgress(5_000_000_000L, 15_000_000_000L));
    assertThat(found.updatedAt()).isEqualTo(found.createdAt());
  }

  @Test
  void statusAndSpecUpdatesAreRecorded() {
    keyRepository.ensureTenant("a");
    deployments.insert("dep_aaaaaaaa", "a", spec("first"), null);
    clock.advanceSeconds(3);
    assertThat(
            deployments.updateStatus(
                "dep_aaaaaaaa", DeploymentStatus.FAILED, "model download failed: 404"))
        .isTrue();
    assertThat(deployments.updateStatus("dep_missing1", DeploymentStatus.FAILED, null)).isFalse();
    assertThat(deployments.updateSpec("dep_aaaaaaaa", spec("first").withEdit("renamed", 10, 20)))
        .isTrue();

    var d = deployments.find("a", "dep_aaaaaaaa").orElseThrow();
    assertThat(d.status()).isEqualTo(DeploymentStatus.FAILED);
    assertThat(d.statusReason()).isEqualTo("model download failed: 404");
    assertThat(d.spec().name()).isEqualTo("renamed");
    assertThat(d.spec().idleTimeoutSeconds()).isEqualTo(10);
    assertThat(d.updatedAt()).isEqualTo(Instant.parse("2026-01-01T00:00:03Z"));
  }

  @Test
  void deletedDeploymentsLeaveTheListAfterADay() {
    keyRepository.ensureTenant("a");
    deployments.insert("dep_aaaaaaaa", "a", spec("gone"), null);
    deployments.updateStatus("dep_aaaaaaaa", DeploymentStatus.DELETED, null);
    assertThat(deployments.list("a")).hasSize(1);
    assertThat(deployments.listNotDeleted()).isEmpty();
    clock.advanceSeconds(25 * 3600);
    assertThat(deployments.list("a")).isEmpty();
  }

  @Test
  void secretsAreEncryptedAtRestAndRemovedWithAnUnstartedDeployment() {
    keyRepository.ensureTenant("a");
    String ref = secrets.put("a", Map.of("HF_TOKEN", "hf_plaintext_value"));
    String stored =
        jdbc.sql("select ciphertext from secrets where id = :id")
            .param("id", ref)
            .query(String.class)
            .single();
    assertThat(stored).doesNotContain("hf_plaintext_value").doesNotContain("HF_TOKEN");
    assertThat(secrets.resolve(ref)).contains(Map.of("HF_TOKEN", "hf_plaintext_value"));

    deployments.insert("dep_aaaaaaaa", "a", spec("x"), ref);
    deployments.deleteUnstarted("dep_aaaaaaaa");
    assertThat(deployments.findById("dep_aaaaaaaa")).isEmpty();
    assertThat(secrets.resolve(ref)).isEmpty();
  }

  @Test
  void aDeletedDeploymentsSecretIsRemovedAndItsEnvNamesStay() {
    keyRepository.ensureTenant("a");
    String ref = secrets.put("a", Map.of("HF_TOKEN", "hf_plaintext_value"));
    deployments.insert("dep_bbbbbbbb", "a", spec("x"), ref);

    deployments.forgetSecret("dep_bbbbbbbb");
    deployments.forgetSecret("dep_bbbbbbbb");

    assertThat(secrets.resolve(ref)).isEmpty();
    var kept = deployments.findById("dep_bbbbbbbb").orElseThrow();
    assertThat(kept.secretId()).isNull();
    assertThat(kept.spec()).isEqualTo(spec("x"));
  }

  @Test
  void aCiphertextMovedToAnotherRowDoesNotDecrypt() {
    keyRepository.ensureTenant("a");
    String one = secrets.put("a", Map.of("A", "1"));
    String two = secrets.put("a", Map.of("B", "2"));
    String ct =
        jdbc.sql("select ciphertext from secrets where id = :id")
            .param("id", one)
            .query(String.class)
            .single();
    jdbc.sql("update secrets set ciphertext = :ct where id = :id")
        .param("ct", ct)
        .param("id", two)
        .update();
    assertThatThrownBy(() -> secrets.resolve(two)).hasMessageContaining("could not be decrypted");
  }

  @Test
  void apiKeysAuthenticateUntilRevokedAndAreStoredOnlyAsHashes() {
    var issued = apiKeys.issue("acme", "ci", false);
    assertThat(ApiKeys.wellFormed(issued.key())).isTrue();
    assertThat(apiKeys.authenticate(issued.key())).map(k -> k.tenantId()).contains("acme");
    assertThat(apiKeys.authenticate(issued.key() + "x")).isEmpty();
    assertThat(apiKeys.authenticate(ApiKeys.newKey())).isEmpty();
    assertThat(
            jdbc.sql("select count(*) from api_keys where key_hash = :k or prefix = :k")
                .param("k", issued.key())
                .query(Long.class)
                .single())
        .isZero();

    assertThat(keyRepository.revoke(issued.record().id())).isTrue();
    assertThat(keyRepository.revoke(issued.record().id())).isFalse();
    assertThat(apiKeys.authenticate(issued.key())).isEmpty();
  }

  @Test
  void tenantsAreCreatedOnce() {
    keyRepository.ensureTenant("acme");
    keyRepository.ensureTenant("acme");
    assertThat(jdbc.sql("select count(*) from tenants").query(Long.class).single()).isEqualTo(1);
  }

  @Test
  void workersListCurrentFirstThenRecentlyEnded() {
    keyRepository.ensureTenant("a");
    deployments.insert("dep_aaaaaaaa", "a", spec("x"), null);
    insertWorker("w-old-stopped", "stopped", clock.instant(), clock.instant().plusSeconds(60));
    clock.advanceSeconds(10);
    insertWorker("w-healthy", "healthy", clock.instant(), null);
    insertWorker(
        "w-ancient",
        "failed",
        clock.instant().minusSeconds(3 * 86400),
        clock.instant().minusSeconds(2 * 86400));

    assertThat(workers.listVisible("dep_aaaaaaaa"))
        .extracting(WorkerRecord::id)
        .containsExactly("w-healthy", "w-old-stopped");
  }

  @Test
  void workerTransitionsSetTimestampsOnceAndAnEndedWorkerStaysEnded() {
    keyRepository.ensureTenant("a");
    deployments.insert("dep_aaaaaaaa", "a", spec("x"), null);
    assertThat(workers.nextOrdinal("dep_aaaaaaaa")).isEqualTo(1);
    String id = "dep_aaaaaaaa-w3";
    workers.record(transition(id, WorkerStatus.PROVISIONING, "http://127.0.0.1:4000", null));
    Instant created = clock.instant();
    clock.advanceSeconds(2);
    workers.record(transition(id, WorkerStatus.HEALTHY, null, null));
    clock.advanceSeconds(5);
    // A retried write of the same transition must not move the timestamp.
    workers.record(transition(id, WorkerStatus.HEALTHY, null, null));
    var healthy = workers.listCurrent().getFirst();
    assertThat(healthy.status()).isEqualTo(WorkerStatus.HEALTHY);
    assertThat(healthy.endpoint()).isEqualTo("http://127.0.0.1:4000");
    assertThat(healthy.createdAt()).isEqualTo(created);
    assertThat(healthy.healthyAt()).isEqualTo(created.plusSeconds(2));
    assertThat(workers.nextOrdinal("dep_aaaaaaaa")).isEqualTo(4);

    workers.record(transition(id, WorkerStatus.FAILED, null, "engine exited with code 137"));
    clock.advanceSeconds(5);
    workers.record(transition(id, WorkerStatus.HEALTHY, null, null));
    workers.markStopped(id, "swept");

    var ended = workers.listVisible("dep_aaaaaaaa").getFirst();
    assertThat(ended.status()).isEqualTo(WorkerStatus.FAILED);
    assertThat(ended.failureReason()).isEqualTo("engine exited with code 137");
    assertThat(ended.stoppedAt()).isEqualTo(created.plusSeconds(7));
    assertThat(workers.listCurrent()).isEmpty();
  }

  @Test
  void aWorkersColdStartInstantsAreKeptFromTheirFirstWriteAndFirstRoutedIsWrittenOnce() {
    keyRepository.ensureTenant("a");
    deployments.insert("dep_aaaaaaaa", "a", spec("x"), null);
    String id = "dep_aaaaaaaa-w1";
    Instant decided = clock.instant().minusMillis(300);
    Instant started = clock.instant();
    workers.record(
        new WorkerRepository.WorkerTransition(
            "dep_aaaaaaaa",
            id,
            1,
            WorkerStatus.PROVISIONING,
            null,
            1,
            "http://127.0.0.1:4000",
            null,
            decided,
            started));
    clock.advanceSeconds(1);
    // A retried start reports later instants: the first ones stay.
    workers.record(
        new WorkerRepository.WorkerTransition(
            "dep_aaaaaaaa",
            id,
            1,
            WorkerStatus.PROVISIONING,
            null,
            1,
            "http://127.0.0.1:4000",
            null,
            decided.plusSeconds(1),
            clock.instant()));
    clock.advanceSeconds(1);
    workers.record(transition(id, WorkerStatus.HEALTHY, null, null));
    var healthy = workers.find(id).orElseThrow();
    assertThat(healthy.decidedAt()).isEqualTo(decided);
    assertThat(healthy.processStartedAt()).isEqualTo(started);
    assertThat(healthy.healthyAt()).isEqualTo(started.plusSeconds(2));
    assertThat(healthy.firstRoutedAt()).isNull();

    Instant routed = started.plusSeconds(2).plusMillis(40);
    var first = workers.recordFirstRouted(id, routed);
    assertThat(first).map(WorkerRecord::firstRoutedAt).contains(routed);
    assertThat(first).map(WorkerRecord::decidedAt).contains(decided);
    // Another gateway's (or a retried) write finds it recorded and changes nothing.
    assertThat(workers.recordFirstRouted(id, routed.plusSeconds(9))).isEmpty();
    assertThat(workers.recordFirstRouted("dep_aaaaaaaa-w9", routed)).isEmpty();
    assertThat(workers.listVisible("dep_aaaaaaaa").getFirst().firstRoutedAt()).isEqualTo(routed);
    assertThat(workers.find("dep_aaaaaaaa-w9")).isEmpty();
  }

  @Test
  void aWorkerWithoutOwnerIsMarkedStopped() {
    keyRepository.ensureTenant("a");
    deployments.insert("dep_aaaaaaaa", "a", spec("x"), null);
    workers.record(transition("dep_aaaaaaaa-w1", WorkerStatus.HEALTHY, "http://x", null));
    workers.markStopped("dep_aaaaaaaa-w1", "the platform restarted");
    var w = workers.listVisible("dep_aaaaaaaa").getFirst();
    assertThat(w.status()).isEqualTo(WorkerStatus.STOPPED);
    assertThat(w.failureReason()).isEqualTo("the platform restarted");
    assertThat(w.stoppedAt()).isNotNull();
  }

  private static WorkerRepository.WorkerTransition transition(
      String id, WorkerStatus status, String endpoint, String reason) {
    int ordinal = Integer.parseInt(id.substring(id.lastIndexOf("-w") + 2));
    return new WorkerRepository.WorkerTransition(
        "dep_aaaaaaaa", id, ordinal, status, null, 1, endpoint, reason);
  }

  private void insertWorker(String id, String status, Instant created, Instant stopped) {
    jdbc.sql(
            "insert into workers (id, deployment_id, status, gpu_type, gpu_count, created_at, stopped_at)"
                + " values (:id, 'dep_aaaaaaaa', :status, 'H100', 1, :created, :stopped)")
        .param("id", id)
        .param("status", status)
        .param("created", created.atOffset(ZoneOffset.UTC))
        .param("stopped", stopped == null ? null : stopped.atOffset(ZoneOffset.UTC))
        .update();
  }

  static final byte[] INPUT = "{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8);

  JobRecord job(String id, String tenant, String key) {
    return JobRecord.queued(
        id, tenant, "dep_1", "v1/chat/completions", INPUT.length, key, "hash-" + id, clock.now);
  }

  void insertJob(String id, String tenant, String key) {
    jobs.insert(job(id, tenant, key), INPUT);
  }

  @Test
  void aJobRoundTripsAndEndsExactlyOnce() {
    insertJob("req_1", "a", null);
    var stored = jobs.find("req_1").orElseThrow();
    assertThat(stored.status()).isEqualTo(JobStatus.QUEUED);
    assertThat(stored.workflowStarted()).isFalse();
    assertThat(stored.inputBytes()).isEqualTo(INPUT.length);
    assertThat(jobs.input("req_1")).hasValueSatisfying(v -> assertThat(v).isEqualTo(INPUT));

    jobs.markWorkflowStarted("req_1");
    clock.advanceSeconds(5);
    var end = clock.now;
    assertThat(
            jobs.finish(
                "req_1",
                JobStatus.COMPLETED,
                200,
                "{\"ok\":1}",
                "application/json",
                null,
                end,
                end.plusSeconds(60)))
        .isTrue();
    // A late cancel, or a retried write, does not replace the first end.
    assertThat(
            jobs.finish(
                "req_1",
                JobStatus.CANCELLED,
                410,
                null,
                null,
                "cancelled",
                end,
                end.plusSeconds(60)))
        .isFalse();

    var done = jobs.find("req_1").orElseThrow();
    assertThat(jobs.input("req_1")).as("an ended job's input is removed").isEmpty();
    assertThat(done.inputBytes()).isZero();
    assertThat(done.status()).isEqualTo(JobStatus.COMPLETED);
    assertThat(done.workflowStarted()).isTrue();
    assertThat(done.httpStatus()).isEqualTo(200);
    assertThat(done.result()).isEqualTo("{\"ok\":1}");
    assertThat(done.resultType()).isEqualTo("application/json");
    assertThat(done.finishedAt()).isEqualTo(end);
    assertThat(done.expiresAt()).isEqualTo(end.plusSeconds(60));
    assertThatThrownBy(() -> jobs.finish("req_1", JobStatus.QUEUED, 0, null, null, null, end, end))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void aLargeInputIsStoredInPiecesCountedPerTenantAndRemovedWithItsJob() {
    // Incompressible (random) and far larger than one stored piece.
    var random = new Random(7);
    byte[] big = new byte[300_000];
    random.nextBytes(big);
    jobs.insert(job("req_big", "a", null).withInputBytes(big.length), big);
    insertJob("req_small", "b", null);
    assertThat(jobs.input("req_big")).hasValueSatisfying(v -> assertThat(v).isEqualTo(big));
    assertThat(
            jdbc.sql("select count(*) from job_inputs where job_id = 'req_big'")
                .query(Long.class)
                .single())
        .as("pieces")
        .isGreaterThan(4);
    assertThat(jobs.storedInputBytes("a")).isEqualTo(big.length);
    assertThat(jobs.storedInputBytes("b")).isEqualTo(INPUT.length);
    assertThat(jobs.storedInputBytes()).isEqualTo(big.length + INPUT.length);

    var now = clock.now;
    jobs.finish("req_big", JobStatus.FAILED, 502, null, null, "worker", now, now.plusSeconds(5));
    assertThat(jobs.storedInputBytes("a")).isZero();
    assertThat(jobs.input("req_big")).isEmpty();
    jobs.delete("req_small");
    assertThat(jdbc.sql("select count(*) from job_inputs").query(Long.class).single()).isZero();
  }

  @Test
  void aSubmitThatLosesTheIdempotencyRaceLeavesNoInputAndLeftoversAreSwept() {
    insertJob("req_1", "a", "key-1");
    assertThatThrownBy(() -> insertJob("req_2", "a", "key-1"))
        .isInstanceOf(DuplicateKeyException.class);
    assertThat(jobs.input("req_2")).isEmpty();
    // An input whose job was never stored (a crash in between), and one whose job ended without
    // it being removed.
    jdbc.sql(
            "insert into job_inputs (job_id, seq, data, created_at) values ('req_gone', 0, :d,"
                + " :t)")
        .param("d", new byte[] {1})
        .param("t", java.time.OffsetDateTime.ofInstant(clock.now, ZoneOffset.UTC))
        .update();
    jdbc.sql("update jobs set status = 'completed' where id = 'req_1'").update();
    assertThat(jobs.deleteLeftoverInputs(clock.now)).as("none old enough yet").isZero();
    insertJob("req_3", "a", null);
    assertThat(jobs.deleteLeftoverInputs(clock.now.plusSeconds(1))).isEqualTo(2);
    assertThat(jobs.input("req_3")).as("an unfinished job keeps its input").isPresent();
  }

  @Test
  void anIdempotencyKeyIsUniquePerTenant() {
    insertJob("req_1", "a", "key-1");
    insertJob("req_2", "b", "key-1");
    insertJob("req_3", "a", null);
    insertJob("req_4", "a", null);

    assertThatThrownBy(() -> insertJob("req_5", "a", "key-1"))
        .isInstanceOf(DuplicateKeyException.class);
    assertThat(jobs.findByIdempotencyKey("a", "key-1").orElseThrow().id()).isEqualTo("req_1");
    assertThat(jobs.findByIdempotencyKey("b", "key-1").orElseThrow().id()).isEqualTo("req_2");
    assertThat(jobs.findByIdempotencyKey("a", "key-2")).isEmpty();
  }

  @Test
  void unfinishedJobsPageInOrderAndExpiredOnesAreListedForRemoval() {
    for (int i = 1; i <= 5; i++) {
      insertJob("req_" + i, "a", null);
      clock.advanceSeconds(1);
    }
    jobs.markWorkflowStarted("req_1");
    jobs.markWorkflowStarted("req_2");
    var now = clock.now;
    jobs.finish("req_3", JobStatus.FAILED, 502, null, null, "worker", now, now.plusSeconds(10));

    var first = jobs.listUnfinished(null, 2);
    assertThat(first).extracting(JobRecord::id).containsExactly("req_1", "req_2");
    assertThat(jobs.listUnfinished(first.get(1), 2))
        .extracting(JobRecord::id)
        .containsExactly("req_4", "req_5");
    assertThat(jobs.listNotStarted(now.minusSeconds(1), 10))
        .extracting(JobRecord::id)
        .containsExactly("req_4");

    assertThat(jobs.listExpired(now.plusSeconds(10), 10)).isEmpty();
    assertThat(jobs.listExpired(now.plusSeconds(11), 10)).containsExactly("req_3");
    jobs.delete("req_3");
    assertThat(jobs.find("req_3")).isEmpty();
  }
}
