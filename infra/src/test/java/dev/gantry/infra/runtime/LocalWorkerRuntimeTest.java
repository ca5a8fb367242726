package dev.gantry.infra.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.api.deployment.GpuSpec;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.gpu.GpuInventory;
import dev.gantry.infra.gpu.GpuInventory.Allocation;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The local runtime against real simulator child processes. */
class LocalWorkerRuntimeTest {
  private static final Logger log = LoggerFactory.getLogger(LocalWorkerRuntimeTest.class);

  private static final String WORKER = "dep_abcdef-w1";
  private static final Duration HEALTHY_WITHIN = Duration.ofSeconds(30);
  private static final Duration POLL = Duration.ofMillis(20);

  @TempDir Path dataDir;

  private final List<Fixture> fixtures = new ArrayList<>();
  private final List<Process> strangers = new ArrayList<>();

  private record Fixture(LocalWorkerRuntime runtime, GpuInventory inventory) {}

  /** A runtime over the test's data dir, as a (re)started platform process would build it. */
  private Fixture fixture(Map<String, String> settings) {
    Map<String, String> all = new LinkedHashMap<>();
    all.put("runtime.local.virtual-slots", "4");
    all.putAll(settings);
    GantryProperties properties = TestProperties.bind(dataDir, all);
    GpuInventory inventory = new GpuInventory(properties);
    Fixture fixture =
        new Fixture(
            new LocalWorkerRuntime(properties, inventory, new EngineLaunchSpecs(properties)),
            inventory);
    fixtures.add(fixture);
    return fixture;
  }

  private Fixture fixture() {
    return fixture(Map.of());
  }

  private WorkerLaunchRequest sim(String workerId, Map<String, String> env) {
    return new WorkerLaunchRequest(
        "dep_abcdef",
        workerId,
        Framework.SIM,
        "test-model",
        dataDir.resolve("storage").resolve("dep_abcdef"),
        env,
        List.of("--ttft-ms=1"),
        null,
        0);
  }

  private static void awaitHealthy(WorkerRuntime runtime, RunningWorker worker) {
    await().atMost(HEALTHY_WITHIN).pollInterval(POLL).until(() -> runtime.probe(worker));
  }

  private static void awaitListeningLine(WorkerRuntime runtime, RunningWorker worker) {
    await()
        .atMost(HEALTHY_WITHIN)
        .pollInterval(POLL)
        .until(
            () ->
                runtime
                    .logTail(worker.workerId(), 50)
                    .contains("gantry-sim listening on 127.0.0.1:" + worker.port()));
  }

  private static boolean gone(long pid) {
    return ProcessHandle.of(pid).map(p -> !p.isAlive()).orElse(true);
  }

  @AfterEach
  void stopEverything() throws InterruptedException {
    for (Fixture fixture : fixtures) {
      for (String workerId : fixture.runtime().knownWorkers()) {
        fixture.runtime().stop(workerId, Duration.ofSeconds(2));
      }
      fixture.runtime().shutdown();
    }
    for (Process stranger : strangers) {
      stranger.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }

  @Test
  void killedEngineReportsTheSignalAndTheEndOfItsLog() throws Exception {
    Fixture f = fixture();
    long before = System.nanoTime();
    RunningWorker worker = f.runtime().start(sim(WORKER, Map.of()));
    awaitHealthy(f.runtime(), worker);
    log.info(
        "sim worker healthy {} ms after start()",
        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - before));

    assertThat(worker.endpoint()).isEqualTo("http://127.0.0.1:" + worker.port());
    assertThat(worker.gpuType()).isNull();
    assertThat(worker.gpuCount()).isEqualTo(1);
    assertThat(worker.logFile()).isEqualTo(dataDir.resolve("logs/workers/" + WORKER + ".log"));
    assertThat(f.runtime().inFlight(worker)).contains(0);
    assertThat(f.runtime().knownWorkers()).containsExactly(WORKER);
    assertThat(f.inventory().allocationOf(WORKER)).contains(new Allocation(null, List.of(0)));
    awaitListeningLine(f.runtime(), worker);

    CompletableFuture<EngineExit> exit = f.runtime().onExit(WORKER);
    assertThat(exit).isNotDone();
    ProcessHandle.of(worker.pid()).orElseThrow().destroyForcibly();

    EngineExit exited = exit.get(10, TimeUnit.SECONDS);
    assertThat(exited.exitCode()).isEqualTo(137);
    assertThat(exited.reason())
        .startsWith("engine exited with code 137 (killed by SIGKILL); last log lines:\n")
        .contains("gantry-sim listening on 127.0.0.1:" + worker.port() + " model=test-model");
    assertThat(exited.reason().length()).isLessThan(2200);
    assertThat(f.runtime().find(WORKER)).isEmpty();
    assertThat(f.runtime().probe(worker)).isFalse();
    assertThat(f.runtime().inFlight(worker)).isEmpty();
    // a dead engine keeps its slot until the worker is stopped
    assertThat(f.inventory().allocationOf(WORKER)).isPresent();

    f.runtime().stop(WORKER, Duration.ofSeconds(1));

    assertThat(f.inventory().allocationOf(WORKER)).isEmpty();
    assertThat(f.runtime().knownWorkers()).isEmpty();
  }

  @Test
  void gracefulStopEndsTheEngineWithSigtermAndForgetsTheWorker() throws Exception {
    Fixture f = fixture();
    RunningWorker worker = f.runtime().start(sim(WORKER, Map.of()));
    awaitHealthy(f.runtime(), worker);
    CompletableFuture<EngineExit> exit = f.runtime().onExit(WORKER);

    f.runtime().stop(WORKER, Duration.ofSeconds(10));

    assertThat(gone(worker.pid())).isTrue();
    EngineExit exited = exit.get(5, TimeUnit.SECONDS);
    assertThat(exited.exitCode()).isEqualTo(143);
    assertThat(exited.reason()).startsWith("engine exited with code 143 (killed by SIGTERM)");
    assertThat(dataDir.resolve("run/workers/" + WORKER + ".json")).doesNotExist();
    assertThat(f.runtime().knownWorkers()).isEmpty();
    assertThat(f.inventory().allocationOf(WORKER)).isEmpty();
    assertThat(f.runtime().onExit(WORKER))
        .isCompletedWithValueMatching(
            e ->
                e.exitCode() == -1
                    && e.reason().startsWith("engine is not running")
                    && e.reason().contains("gantry-sim listening"));

    f.runtime().stop(WORKER, Duration.ofSeconds(1)); // idempotent
    assertThat(f.runtime().knownWorkers()).isEmpty();
  }

  @Test
  void startIsIdempotentAlsoUnderConcurrentRetries() throws Exception {
    Fixture f = fixture();
    List<Future<RunningWorker>> starts = new ArrayList<>();
    try (var executor = Executors.newFixedThreadPool(4)) {
      for (int i = 0; i < 4; i++) {
        starts.add(executor.submit(() -> f.runtime().start(sim(WORKER, Map.of()))));
      }
    }
    List<Long> pids = new ArrayList<>();
    for (Future<RunningWorker> start : starts) {
      pids.add(start.get().pid());
    }
    RunningWorker worker = starts.getFirst().get();
    awaitHealthy(f.runtime(), worker);

    assertThat(pids).containsOnly(worker.pid());
    assertThat(f.runtime().start(sim(WORKER, Map.of()))).isEqualTo(worker);
    assertThat(ProcessHandle.current().children().filter(ProcessHandle::isAlive).count())
        .isEqualTo(1);
    assertThat(f.inventory().allocationOf(WORKER)).contains(new Allocation(null, List.of(0)));
    assertThat(f.inventory().allocate("dep_abcdef-w2", Framework.SIM, null).indices())
        .containsExactly(1);
  }

  @Test
  void aRestartedRuntimeReAdoptsTheRunningEngineAndCanStopIt() throws Exception {
    Fixture before = fixture();
    RunningWorker worker = before.runtime().start(sim(WORKER, Map.of()));
    awaitHealthy(before.runtime(), worker);
    CompletableFuture<EngineExit> exitSeenByStarter = before.runtime().onExit(WORKER);

    Fixture after = fixture();
    assertThat(after.inventory().allocationOf(WORKER)).isEmpty();
    assertThat(after.runtime().knownWorkers()).containsExactly(WORKER);

    assertThat(after.runtime().find(WORKER)).contains(worker);
    assertThat(after.inventory().allocationOf(WORKER)).contains(new Allocation(null, List.of(0)));
    assertThat(after.runtime().probe(worker)).isTrue();
    assertThat(after.runtime().start(sim(WORKER, Map.of())).pid()).isEqualTo(worker.pid());
    CompletableFuture<EngineExit> exit = after.runtime().onExit(WORKER);
    assertThat(exit).isNotDone();

    after.runtime().stop(WORKER, Duration.ofSeconds(10));

    assertThat(gone(worker.pid())).isTrue();
    EngineExit exited = exit.get(10, TimeUnit.SECONDS);
    assertThat(exited.exitCode()).isEqualTo(-1);
    assertThat(exited.reason()).startsWith("engine exited (its exit code is unknown");
    assertThat(exitSeenByStarter.get(5, TimeUnit.SECONDS).exitCode()).isEqualTo(143);
    assertThat(after.inventory().allocationOf(WORKER)).isEmpty();
    assertThat(after.runtime().knownWorkers()).isEmpty();
  }

  @Test
  void aMissingSimBinaryIsEngineNotFoundAndTakesNoSlot() {
    Fixture f = fixture(Map.of("runtime.local.sim-command[0]", "/nonexistent/bin/engine"));

    assertThatThrownBy(() -> f.runtime().start(sim(WORKER, Map.of())))
        .isInstanceOfSatisfying(
            WorkerRuntimeException.class,
            e -> assertThat(e.type()).isEqualTo(FailureType.ENGINE_NOT_FOUND))
        .hasMessage(
            "engine binary '/nonexistent/bin/engine' does not exist; "
                + "check gantry.runtime.local.sim-command");
    assertThat(f.inventory().allocationOf(WORKER)).isEmpty();
    assertThat(f.runtime().knownWorkers()).isEmpty();
    assertThat(f.runtime().find(WORKER)).isEmpty();
    assertThat(f.runtime().onExit(WORKER))
        .isCompletedWithValueMatching(e -> e.reason().startsWith("engine is not running"));
  }

  @Test
  void anEngineMissingFromThePathIsEngineNotFoundAndFreesItsGpus() {
    boolean vllmInstalled =
        Arrays.stream("/usr/local/bin:/usr/bin:/bin".split(File.pathSeparator))
            .anyMatch(dir -> Files.isExecutable(Path.of(dir, "vllm")));
    assumeThat(vllmInstalled).as("vllm is installed on this host").isFalse();
    Fixture f =
        fixture(Map.of("runtime.local.gpus[0].type", "H100", "runtime.local.gpus[0].count", "1"));
    WorkerLaunchRequest vllm =
        new WorkerLaunchRequest(
            "dep_abcdef",
            WORKER,
            Framework.VLLM,
            "org/model",
            dataDir,
            Map.of(),
            List.of(),
            new GpuSpec("H100", 1, List.of()),
            0);

    assertThatThrownBy(() -> f.runtime().start(vllm))
        .isInstanceOfSatisfying(
            WorkerRuntimeException.class,
            e -> assertThat(e.type()).isEqualTo(FailureType.ENGINE_NOT_FOUND))
        .hasMessage(
            "engine binary 'vllm' was not found on the engines' PATH (/usr/local/bin:/usr/bin:/bin,"
                + " gantry.runtime.local.containment.engine-path); install vLLM or use another"
                + " framework");
    assertThat(f.inventory().allocationOf(WORKER)).isEmpty();
  }

  @Test
  void secretsReachTheEngineButNeverItsLog() throws Exception {
    String secret = "hf-test-value-7f3a9c";
    Fixture f = fixture();
    WorkerLaunchRequest request = sim(WORKER, Map.of("HF_TOKEN", secret));
    Files.createDirectories(request.storageDir());
    RunningWorker worker = f.runtime().start(request);
    awaitListeningLine(f.runtime(), worker);

    Path environ = Path.of("/proc", Long.toString(worker.pid()), "environ");
    assumeThat(Files.isReadable(environ)).as("/proc/<pid>/environ is readable").isTrue();
    List<String> env =
        Arrays.asList(new String(Files.readAllBytes(environ), StandardCharsets.UTF_8).split("\0"));
    assertThat(env).contains("HF_TOKEN=" + secret);
    // the engine runs in the deployment's storage directory
    assertThat(Files.readSymbolicLink(Path.of("/proc", Long.toString(worker.pid()), "cwd")))
        .isEqualTo(request.storageDir().toRealPath());
    String logText = Files.readString(worker.logFile());
    assertThat(logText)
        .startsWith("[gantry] ")
        .contains("starting sim engine for worker " + WORKER + ": ")
        .contains("env: [HF_TOKEN]")
        .doesNotContain(secret);
  }

  private static Map<String, String> environOf(long pid) throws Exception {
    Path environ = Path.of("/proc", Long.toString(pid), "environ");
    Map<String, String> env = new LinkedHashMap<>();
    for (String entry :
        new String(Files.readAllBytes(environ), StandardCharsets.UTF_8).split("\0")) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        env.put(entry.substring(0, eq), entry.substring(eq + 1));
      }
    }
    return env;
  }

  /** The real, effective, saved and file-system uids from {@code /proc/<pid>/status}. */
  private static List<Long> uidsOf(long pid) throws Exception {
    return statusLine(pid, "Uid:");
  }

  private static List<Long> statusLine(long pid, String key) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
      if (line.startsWith(key)) {
        return Arrays.stream(line.substring(key.length()).strip().split("\\s+"))
            .map(v -> Long.parseLong(v, key.startsWith("Cap") ? 16 : 10))
            .toList();
      }
    }
    throw new AssertionError("no " + key + " line for pid " + pid);
  }

  private static boolean platformIsRoot() {
    return EngineSandbox.platformIsRoot();
  }

  /** Whether {@code cat file} succeeds as the given uid (with no groups), as an engine would. */
  private static boolean readableAs(long uid, Path file) throws Exception {
    Process cat =
        new ProcessBuilder(
                "setpriv",
                "--reuid=" + uid,
                "--regid=" + uid,
                "--clear-groups",
                "--",
                "cat",
                file.toString())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.DISCARD)
            .start();
    assertThat(cat.waitFor(10, TimeUnit.SECONDS)).isTrue();
    return cat.exitValue() == 0;
  }

  @Test
  void theEngineGetsAMinimalEnvironmentAndNoDisallowedVariableEvenAStoredOne() throws Exception {
    String secret = "hf-test-value-2b8e41";
    Path marker = dataDir.resolve("oom-ran");
    Map<String, String> stored = new LinkedHashMap<>();
    stored.put("HF_TOKEN", secret);
    // As a deployment created before the allowlist could have stored them.
    stored.put("JAVA_TOOL_OPTIONS", "-XX:OnOutOfMemoryError=touch " + marker + " -Dpwned=1");
    stored.put("LD_PRELOAD", "/nonexistent/evil.so");
    stored.put("PATH", "/tmp/evil-bin");
    stored.put("VLLM_PLUGINS", "evil");
    Fixture f = fixture();
    WorkerLaunchRequest request = sim(WORKER, stored);
    RunningWorker worker = f.runtime().start(request);
    awaitListeningLine(f.runtime(), worker);

    Map<String, String> env = environOf(worker.pid());
    assertThat(env.keySet())
        .containsExactlyInAnyOrder("PATH", "HOME", "TMPDIR", "LANG", "USER", "LOGNAME", "HF_TOKEN");
    assertThat(env)
        .containsEntry("PATH", "/usr/local/bin:/usr/bin:/bin")
        .containsEntry("HOME", dataDir.resolve("engines/home/" + WORKER).toString())
        .containsEntry("TMPDIR", dataDir.resolve("engines/home/" + WORKER).toString())
        .containsEntry("HF_TOKEN", secret);
    // Nothing of this JVM's own environment is inherited either.
    assertThat(env).doesNotContainKeys("JAVA_HOME", "MAVEN_OPTS", "MAVEN_PROJECTBASEDIR");
    assertThat(Files.readString(worker.logFile()))
        .contains("env: [HF_TOKEN]")
        .doesNotContain("Picked up JAVA_TOOL_OPTIONS")
        .doesNotContain(secret);
    assertThat(marker).doesNotExist();
  }

  @Test
  void asRootEachDeploymentsEngineRunsAsItsOwnUidAndCannotReadTheDataDir() throws Exception {
    assumeThat(platformIsRoot()).as("the tests run as root (as in CI)").isTrue();
    // What the platform keeps in its data dir, created with a lax umask to prove it is closed.
    Files.writeString(dataDir.resolve("secrets.key"), "key");
    Files.createDirectories(dataDir.resolve("db"));
    Files.writeString(dataDir.resolve("db/gantry.mv.db"), "db");
    Files.writeString(dataDir.resolve("admin-api-key"), "gk_admin");
    Path own = dataDir.resolve("storage/dep_abcdef/model/config.json");
    Files.createDirectories(own.getParent());
    Files.writeString(own, "{}");
    Path other = dataDir.resolve("storage/dep_ghijkl/model/config.json");
    Files.createDirectories(other.getParent());
    Files.writeString(other, "{}");
    Fixture f = fixture();

    RunningWorker worker = f.runtime().start(sim(WORKER, Map.of()));
    awaitHealthy(f.runtime(), worker);
    RunningWorker neighbour =
        f.runtime()
            .start(
                new WorkerLaunchRequest(
                    "dep_ghijkl",
                    "dep_ghijkl-w1",
                    Framework.SIM,
                    "other-model",
                    other.getParent().getParent(),
                    Map.of(),
                    List.of(),
                    null,
                    0));
    awaitHealthy(f.runtime(), neighbour);

    List<Long> uids = uidsOf(worker.pid());
    long uid = uids.getFirst();
    assertThat(uids).containsOnly(uid);
    assertThat(uid).isBetween(2_000_000_000L, 2_000_100_000L);
    assertThat(statusLine(worker.pid(), "NoNewPrivs:")).containsExactly(1L);
    assertThat(statusLine(worker.pid(), "CapEff:")).containsExactly(0L);
    long neighbourUid = uidsOf(neighbour.pid()).getFirst();
    assertThat(neighbourUid).isNotEqualTo(uid).isBetween(2_000_000_000L, 2_000_100_000L);

    assertThat(readableAs(uid, own)).as("its own model").isTrue();
    assertThat(readableAs(uid, dataDir.resolve("secrets.key"))).isFalse();
    assertThat(readableAs(uid, dataDir.resolve("admin-api-key"))).isFalse();
    assertThat(readableAs(uid, dataDir.resolve("db/gantry.mv.db"))).isFalse();
    assertThat(readableAs(uid, worker.logFile())).isFalse();
    assertThat(readableAs(uid, other)).as("another deployment's model").isFalse();
    assertThat(readableAs(neighbourUid, own)).isFalse();

    // The engine's home is its own, and goes with the worker.
    Path home = dataDir.resolve("engines/home/" + WORKER);
    Process touch =
        new ProcessBuilder(
                "setpriv",
                "--reuid=" + uid,
                "--regid=" + uid,
                "--clear-groups",
                "--",
                "mkdir",
                "-p",
                home.resolve(".cache/huggingface").toString())
            .start();
    assertThat(touch.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(touch.exitValue()).isZero();
    f.runtime().stop(WORKER, Duration.ofSeconds(5));
    assertThat(home).doesNotExist();
  }

  @Test
  void reclaimingTheStorageStopsWhatStillRunsAsTheEngineUidAndClosesIt() throws Exception {
    assumeThat(platformIsRoot()).as("the tests run as root (as in CI)").isTrue();
    Fixture f = fixture();
    WorkerLaunchRequest request = sim(WORKER, Map.of());
    RunningWorker worker = f.runtime().start(request);
    awaitHealthy(f.runtime(), worker);
    long uid = uidsOf(worker.pid()).getFirst();
    // A process the engine could have left behind, outside its process tree.
    Process stray =
        new ProcessBuilder(
                "setpriv",
                "--reuid=" + uid,
                "--regid=" + uid,
                "--clear-groups",
                "--",
                "sleep",
                "60")
            .start();
    strangers.add(stray);
    f.runtime().stop(WORKER, Duration.ofSeconds(5));
    assertThat(stray.isAlive()).isTrue();

    f.runtime().reclaimStorage("dep_abcdef", request.storageDir());

    assertThat(stray.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(Files.getAttribute(request.storageDir(), "unix:uid")).isEqualTo(0);
    assertThat(
            java.nio.file.attribute.PosixFilePermissions.toString(
                Files.getPosixFilePermissions(request.storageDir())))
        .isEqualTo("rwx------");
  }

  @Test
  void aStoredFrameworkArgThatIsNoLongerAllowedNeverReachesAnEngine() {
    Fixture f = fixture();
    WorkerLaunchRequest request =
        new WorkerLaunchRequest(
            "dep_abcdef",
            WORKER,
            Framework.SIM,
            "test-model",
            dataDir.resolve("storage").resolve("dep_abcdef"),
            Map.of(),
            List.of("--hos=0.0.0.0"),
            null,
            0);

    assertThatThrownBy(() -> f.runtime().start(request))
        .isInstanceOfSatisfying(
            WorkerRuntimeException.class,
            e -> assertThat(e.type()).isEqualTo(FailureType.INVALID_SPEC))
        .hasMessageContaining("framework_args[0] is refused");
    assertThat(f.inventory().allocationOf(WORKER)).isEmpty();
    assertThat(f.runtime().knownWorkers()).isEmpty();
  }

  @Test
  void aLogFollowSeesTheRunningEngineAndEndsWhenItStops() throws Exception {
    Fixture f = fixture(Map.of());
    RunningWorker worker = f.runtime().start(sim(WORKER, Map.of()));
    awaitListeningLine(f.runtime(), worker);
    var lines = new java.util.concurrent.CopyOnWriteArrayList<String>();
    var ended = new java.util.concurrent.atomic.AtomicBoolean();
    try (var follow =
        f.runtime()
            .followLog(
                WORKER,
                50,
                new LogFollow.Listener() {
                  @Override
                  public void line(String line) {
                    lines.add(line);
                  }

                  @Override
                  public void end() {
                    ended.set(true);
                  }
                })) {
      await().until(() -> lines.stream().anyMatch(l -> l.contains("gantry-sim listening")));
      assertThat(f.runtime().activeLogFollows()).isEqualTo(1);
      assertThat(ended).isFalse();

      f.runtime().stop(WORKER, Duration.ofSeconds(2));
      await().atMost(Duration.ofSeconds(10)).untilTrue(ended);
      await().until(() -> f.runtime().activeLogFollows() == 0);
    }
  }

  @Test
  void rotationCopiesTheLogAsideAndTruncatesIt() throws Exception {
    Fixture f = fixture(Map.of("runtime.local.log-max-bytes", "64"));
    RunningWorker worker = f.runtime().start(sim(WORKER, Map.of()));
    awaitListeningLine(f.runtime(), worker);
    // The simulator's last start-up line follows the listening one: once it is out, the engine
    // writes nothing more, so each rotation below sees the log as the one before left it.
    await()
        .atMost(HEALTHY_WITHIN)
        .pollInterval(POLL)
        .until(() -> f.runtime().logTail(WORKER, 50).contains("gantry-sim boot:"));
    Path rotated = worker.logFile().resolveSibling(WORKER + ".log.1");
    assertThat(Files.size(worker.logFile())).isGreaterThan(64);

    f.runtime().rotateLogs();

    assertThat(worker.logFile()).isEmptyFile();
    assertThat(Files.readString(rotated)).contains("gantry-sim listening");
    // the tail carries on into the rotated file, and the engine is unaffected
    assertThat(f.runtime().logTail(WORKER, 5)).contains("gantry-sim listening");
    assertThat(f.runtime().probe(worker)).isTrue();

    long rotatedSize = Files.size(rotated);
    f.runtime().rotateLogs();
    assertThat(Files.size(rotated)).isEqualTo(rotatedSize);
  }

  @Test
  void stopNeverKillsAProcessThatReusedTheRecordedPid() throws Exception {
    Process stranger = new ProcessBuilder("sleep", "60").start();
    strangers.add(stranger);
    Instant started = stranger.toHandle().info().startInstant().orElseThrow();
    Files.createDirectories(dataDir.resolve("run/workers"));
    PidFile record =
        new PidFile(
            WORKER,
            "dep_abcdef",
            "sim",
            stranger.pid(),
            started.minus(Duration.ofHours(1)).toString(),
            1,
            "http://127.0.0.1:1",
            null,
            List.of(0),
            "/health",
            "/metrics",
            dataDir.resolve("logs/workers/" + WORKER + ".log").toString());
    new ObjectMapper()
        .writeValue(dataDir.resolve("run/workers/" + WORKER + ".json").toFile(), record);
    Fixture f = fixture();

    assertThat(f.runtime().find(WORKER)).isEmpty();
    f.runtime().stop(WORKER, Duration.ofSeconds(1));

    assertThat(stranger.isAlive()).isTrue();
    assertThat(f.runtime().knownWorkers()).isEmpty();
  }

  @Test
  void workerIdsThatCouldEscapeTheDataDirAreRejected() {
    LocalWorkerRuntime runtime = fixture().runtime();
    for (String id : List.of("../etc/passwd", "dep_abcdef-w1/../../x", "DEP_ABCDEF-w1", "")) {
      assertThatThrownBy(() -> runtime.find(id)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> runtime.stop(id, Duration.ZERO))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> runtime.logTail(id, 1)).isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> runtime.start(sim(id, Map.of())))
          .isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void inFlightSumsTheRunningAndWaitingGauges() {
    String vllm =
        """
        # HELP vllm:num_requests_running Number of requests in model execution batches.
        # TYPE vllm:num_requests_running gauge
        vllm:num_requests_running{model_name="a {b} c"} 3.0
        vllm:num_requests_waiting{model_name="x\\"}"} 2
        vllm:num_requests_waiting_by_reason{reason="capacity"} 100
        vllm:prompt_tokens_total{model_name="m"} 12345
        """;
    String sglang =
        """
        sglang:num_running_reqs{model_name="m",tp_rank="0"} 1 1712345678000
        sglang:num_queue_reqs 4
        """;

    assertThat(LocalWorkerRuntime.inFlightFrom(vllm)).contains(5);
    assertThat(LocalWorkerRuntime.inFlightFrom(sglang)).contains(5);
    assertThat(LocalWorkerRuntime.inFlightFrom("process_cpu_seconds_total 1.5\n")).isEmpty();
    assertThat(LocalWorkerRuntime.inFlightFrom("vllm:num_requests_running NaN\n")).isEmpty();
  }
}
