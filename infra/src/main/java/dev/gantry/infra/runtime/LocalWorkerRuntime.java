package dev.gantry.infra.runtime;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gantry.api.FailureType;
import dev.gantry.api.deployment.Framework;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.gpu.GpuInventory;
import dev.gantry.infra.gpu.GpuInventory.Allocation;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.stereotype.Component;

/**
 * The {@code local} runtime: each worker's engine is a child process of this host.
 *
 * <p>Engines outlive the platform on purpose when it dies hard: their output goes straight to a log
 * file opened in append mode (no pipe through this JVM that could break), and a pid file under
 * {@code <data dir>/run/workers} lets the next platform process find, re-adopt and stop them. A pid
 * file also records the process's start instant, so a pid the OS has since given to another process
 * is never mistaken for the engine, and never killed.
 *
 * <p>Calls for one worker are serialized by a per-worker lock, so concurrent retries of a start
 * cannot launch two engines; calls for different workers run in parallel.
 */
@Component
@ConditionalOnProperty(
    prefix = "gantry.runtime",
    name = "type",
    havingValue = "local",
    matchIfMissing = true)
public class LocalWorkerRuntime implements WorkerRuntime {
  private static final Logger log = LoggerFactory.getLogger(LocalWorkerRuntime.class);

  /** {@code <deployment id>-w<ordinal>}; strict, because the id becomes a file name. */
  private static final Pattern WORKER_ID = Pattern.compile("[a-z]{2,8}_[a-z0-9]{6,40}-w[0-9]{1,9}");

  private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(2);

  /** How long to wait for processes to vanish after SIGKILL before calling them unkillable. */
  private static final Duration KILL_WAIT = Duration.ofSeconds(5);

  /** Upper bound of the SIGTERM grace at platform shutdown, which must not take minutes. */
  private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(5);

  private static final Duration ROTATION_INTERVAL = Duration.ofSeconds(10);

  private static final int LOG_TAIL_BYTES = 1024 * 1024;
  private static final Duration LOG_FOLLOW_POLL = Duration.ofMillis(250);

  /**
   * The errno of a failed exec in ProcessBuilder's message: {@code error=2, ...} up to JDK 21,
   * {@code Exec failed, error: 2 (...)} in later JDKs.
   */
  private static final Pattern EXEC_ERRNO = Pattern.compile("error(?:=|: )(\\d+)");

  private static final int ENOENT = 2;
  private static final int EACCES = 13;

  private static final Map<Integer, String> SIGNALS =
      Map.of(1, "SIGHUP", 2, "SIGINT", 6, "SIGABRT", 9, "SIGKILL", 11, "SIGSEGV", 15, "SIGTERM");

  private static final ObjectMapper JSON = new ObjectMapper();

  private final GpuInventory inventory;
  private final EngineLaunchSpecs specs;
  private final Path dataDir;
  private final Path pidDir;
  private final Duration stopGrace;
  private final WorkerLogs logs;
  private final EngineSandbox sandbox;
  private final boolean orchestrator;
  private final String enginePath;
  private final EngineHttp http;
  private final Map<String, ReentrantLock> locks = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicInteger activeLogFollows =
      new java.util.concurrent.atomic.AtomicInteger();

  /** Engines this JVM started: only for those does the OS tell us the exit code. */
  private final Map<String, Process> children = new ConcurrentHashMap<>();

  /** Workers this JVM started or re-adopted; stopped when the platform shuts down. */
  private final Set<String> watched = ConcurrentHashMap.newKeySet();

  /**
   * Rotates logs. A plain daemon thread rather than Spring's {@code @Scheduled}, which would need
   * scheduling enabled application-wide for one ten-second job.
   */
  private final ScheduledExecutorService rotation =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("gantry-log-rotation").factory());

  public LocalWorkerRuntime(
      GantryProperties properties, GpuInventory inventory, EngineLaunchSpecs specs) {
    this.inventory = inventory;
    this.specs = specs;
    this.dataDir = properties.dataDir().toAbsolutePath().normalize();
    this.pidDir = dataDir.resolve("run").resolve("workers");
    this.stopGrace = properties.runtime().local().stopGrace();
    this.logs =
        new WorkerLogs(
            dataDir.resolve("logs").resolve("workers"), properties.runtime().local().logMaxBytes());
    // Engines run as uids of their own exactly when Gantry runs as root.
    this.sandbox =
        new EngineSandbox(
            dataDir, properties.runtime().local().containment(), EngineSandbox.platformIsRoot());
    this.orchestrator = properties.hasRole(GantryProperties.ROLE_ORCHESTRATOR);
    this.enginePath = properties.runtime().local().containment().enginePath();
    this.http = new EngineHttp(PROBE_TIMEOUT);
  }

  @PostConstruct
  void onStart() {
    checkContainment();
    startLogRotation();
  }

  /**
   * Fails the start of an orchestrator that could not confine its engines, with what to do, rather
   * than accept deployments whose workers would all fail.
   */
  private void checkContainment() {
    if (orchestrator) {
      sandbox.checkUsable();
      if (sandbox.confined()) {
        log.info("engines run as unprivileged uids of their own (Gantry runs as root)");
      } else {
        log.info("engines run as Gantry's own user (Gantry does not run as root)");
      }
    }
  }

  private void startLogRotation() {
    long every = ROTATION_INTERVAL.toMillis();
    rotation.scheduleWithFixedDelay(
        () -> {
          try {
            rotateLogs();
          } catch (RuntimeException e) {
            // an escaping exception would cancel the schedule for good
            log.warn("worker log rotation failed", e);
          }
        },
        every,
        every,
        TimeUnit.MILLISECONDS);
  }

  /**
   * Stops every engine this process started or re-adopted, so a graceful platform stop leaves no
   * orphans. The grace is short: shutdown must not hang on a slow engine.
   */
  @PreDestroy
  public void shutdown() {
    rotation.shutdownNow();
    List<String> running = List.copyOf(watched);
    if (!running.isEmpty()) {
      Duration grace = stopGrace.compareTo(SHUTDOWN_GRACE) < 0 ? stopGrace : SHUTDOWN_GRACE;
      log.info("stopping {} engine(s) before Gantry exits", running.size());
      try (var executor = Executors.newVirtualThreadPerTaskExecutor()) {
        for (String workerId : running) {
          executor.execute(
              () -> {
                try {
                  stop(workerId, grace);
                } catch (RuntimeException e) {
                  log.warn("could not stop the engine of worker {} at shutdown", workerId, e);
                }
              });
        }
      }
    }
    http.close();
  }

  @Override
  public RunningWorker start(WorkerLaunchRequest request) {
    String workerId = checkWorkerId(request.workerId());
    checkFrameworkArgs(request);
    return locked(
        workerId,
        () -> {
          Optional<RunningWorker> running = findLocked(workerId);
          if (running.isPresent()) {
            log.info(
                "worker {} already runs its engine (pid {}); not starting another",
                workerId,
                running.get().pid());
            return running.get();
          }
          Allocation allocation = inventory.allocate(workerId, request.framework(), request.gpu());
          try {
            return launch(request, allocation);
          } catch (RuntimeException e) {
            inventory.release(workerId);
            throw e;
          }
        });
  }

  /**
   * Framework args were checked when the deployment was created; they are checked again here so
   * that one stored before a rule existed never reaches an engine. Admin-only flags pass: whoever
   * stored them was allowed to.
   */
  private static void checkFrameworkArgs(WorkerLaunchRequest request) {
    List<String> args = request.frameworkArgs();
    for (int i = 0; i < args.size(); i++) {
      Optional<String> refusal = FrameworkArgPolicy.refusal(request.framework(), args.get(i), true);
      if (refusal.isPresent()) {
        throw new WorkerRuntimeException(
            FailureType.INVALID_SPEC,
            "framework_args[%d] is refused: %s; create a new deployment without it"
                .formatted(i, refusal.get()));
      }
    }
  }

  private RunningWorker launch(WorkerLaunchRequest request, Allocation allocation) {
    String workerId = request.workerId();
    try {
      sandbox.checkUsable();
    } catch (IllegalStateException e) {
      throw new WorkerRuntimeException(FailureType.ENGINE_NOT_FOUND, e.getMessage(), e);
    }
    int port = freePort();
    EngineLaunchSpec spec = specs.build(request, port, allocation);
    String binary = spec.command().getFirst();
    Path program =
        sandbox
            .resolve(binary)
            .map(Path::toAbsolutePath)
            .orElseThrow(() -> notFound(request.framework(), binary));
    Path logFile = logs.fileOf(workerId);
    EngineSandbox.Identity identity;
    Set<String> dropped = new TreeSet<>();
    Map<String, String> engineEnv;
    List<String> command = new ArrayList<>(spec.command());
    command.set(0, program.toString());
    try {
      identity = sandbox.prepare(request.deploymentId(), request.storageDir());
      if (identity != null && !EngineSandbox.openToOthers(program)) {
        throw new WorkerRuntimeException(
            FailureType.ENGINE_NOT_FOUND,
            ("engine binary '%s' lies where the engine's unprivileged uid cannot run it (a"
                    + " directory on its path is closed to other users); %s")
                .formatted(program, installHint(request.framework())));
      }
      command = sandbox.confine(command, request.framework(), identity);
      Path home = sandbox.freshHome(workerId, identity);
      // The platform's own variables win: they bind the engine to its port and its GPUs.
      engineEnv = sandbox.environment(request.env(), spec.env(), home, dropped);
      Files.createDirectories(pidDir);
      logs.appendHeader(withEnvNames(request, dropped), spec);
    } catch (IOException e) {
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT, "cannot prepare the engine of worker " + workerId + ": " + e, e);
    }
    ProcessBuilder builder =
        new ProcessBuilder(command)
            .directory(workingDir(request).toFile())
            .redirectErrorStream(true)
            // Appending, not a pipe: the engine keeps writing when this JVM is gone, and the
            // copy-truncate rotation works because every write lands at the current end.
            .redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    Map<String, String> env = builder.environment();
    env.clear();
    env.putAll(engineEnv);
    if (!dropped.isEmpty()) {
      log.warn(
          "worker {}: env variable(s) {} of deployment {} are not allowed for engines; left out",
          workerId,
          dropped,
          request.deploymentId());
    }

    Process process;
    try {
      process = builder.start();
    } catch (IOException e) {
      throw startFailure(request.framework(), binary, e);
    }
    closeStdin(process);

    String endpoint = "http://" + EngineLaunchSpecs.HOST + ":" + port;
    Optional<Instant> started = process.toHandle().info().startInstant();
    if (started.isEmpty()) {
      log.warn(
          "the OS reports no start time for pid {}; worker {} cannot be re-adopted after a restart",
          process.pid(),
          workerId);
    }
    PidFile record =
        new PidFile(
            workerId,
            request.deploymentId(),
            request.framework().wireName(),
            process.pid(),
            started.map(Instant::toString).orElse(null),
            port,
            endpoint,
            allocation.gpuType(),
            allocation.indices(),
            spec.healthPath(),
            spec.metricsPath(),
            logFile.toString());
    try {
      writePidFile(record);
    } catch (IOException e) {
      // An engine without a pid file could never be found or stopped again.
      process.destroyForcibly();
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT, "cannot record the engine of worker " + workerId + ": " + e, e);
    }
    children.put(workerId, process);
    watched.add(workerId);
    log.info(
        "started {} engine for worker {}: pid {}, {}, {}, env {}",
        request.framework().wireName(),
        workerId,
        process.pid(),
        endpoint,
        describe(allocation),
        new TreeSet<>(withEnvNames(request, dropped).env().keySet()));
    return record.toRunningWorker();
  }

  @Override
  public Optional<RunningWorker> find(String workerId) {
    checkWorkerId(workerId);
    return locked(workerId, () -> findLocked(workerId));
  }

  private Optional<RunningWorker> findLocked(String workerId) {
    Optional<PidFile> record = readPidFile(workerId);
    if (record.isEmpty() || record.get().liveProcess().isEmpty()) {
      return Optional.empty();
    }
    // After a restart the inventory is empty; the engine still holds its GPUs.
    inventory.adopt(workerId, record.get().allocation());
    watched.add(workerId);
    return Optional.of(record.get().toRunningWorker());
  }

  @Override
  public boolean probe(RunningWorker worker) {
    return http.probe(worker, PROBE_TIMEOUT);
  }

  @Override
  public boolean probe(RunningWorker worker, Duration timeout) {
    return http.probe(worker, timeout);
  }

  @Override
  public Optional<Integer> inFlight(RunningWorker worker) {
    return http.inFlight(worker);
  }

  static Optional<Integer> inFlightFrom(String exposition) {
    return EngineHttp.inFlightFrom(exposition);
  }

  @Override
  public CompletableFuture<EngineExit> onExit(String workerId) {
    checkWorkerId(workerId);
    Process child = children.get(workerId);
    Optional<PidFile> record = readPidFile(workerId);
    if (child != null && record.isPresent() && record.get().pid() == child.pid()) {
      return child.onExit().thenApplyAsync(p -> exited(workerId, p.exitValue()));
    }
    Optional<ProcessHandle> adopted = find(workerId).flatMap(w -> ProcessHandle.of(w.pid()));
    if (adopted.isPresent()) {
      // Not our child: the OS keeps its exit code from us.
      return adopted.get().onExit().thenApplyAsync(p -> exited(workerId, -1));
    }
    return CompletableFuture.completedFuture(
        new EngineExit(
            -1,
            withLogTail(
                "engine is not running (it ended while Gantry was not watching it)", workerId)));
  }

  private EngineExit exited(String workerId, int code) {
    String head =
        code < 0
            ? "engine exited (its exit code is unknown: it was started before this Gantry process)"
            : "engine exited with code " + code + signalNote(code);
    return new EngineExit(code, withLogTail(head, workerId));
  }

  /** Exit codes above 128 mean death by signal 128+N, the JVM's and the shells' convention. */
  private static String signalNote(int code) {
    if (code <= 128 || code > 128 + 64) {
      return "";
    }
    int signal = code - 128;
    return " (killed by " + SIGNALS.getOrDefault(signal, "signal " + signal) + ")";
  }

  private String withLogTail(String head, String workerId) {
    String excerpt;
    try {
      excerpt = logs.excerpt(workerId);
    } catch (IOException e) {
      return head + "; its log cannot be read: " + e;
    }
    return excerpt.isEmpty() ? head + "; its log is empty" : head + "; last log lines:\n" + excerpt;
  }

  @Override
  public void stop(String workerId, Duration grace) {
    checkWorkerId(workerId);
    locked(
        workerId,
        () -> {
          Optional<ProcessHandle> process = readPidFile(workerId).flatMap(PidFile::liveProcess);
          if (process.isPresent()) {
            terminate(workerId, process.get(), grace);
          }
          children.remove(workerId);
          watched.remove(workerId);
          inventory.release(workerId);
          sandbox.removeHome(workerId);
          try {
            Files.deleteIfExists(pidFile(workerId));
          } catch (IOException e) {
            throw new WorkerRuntimeException(
                FailureType.TRANSIENT, "cannot remove the pid file of worker " + workerId, e);
          }
          return null;
        });
  }

  /**
   * SIGTERM to the engine and everything it spawned (vLLM and SGLang run worker processes), SIGKILL
   * to whatever outlives the grace. The tree is collected first: once the engine is gone its
   * children are re-parented and can no longer be found from it.
   */
  private void terminate(String workerId, ProcessHandle engine, Duration grace) {
    List<ProcessHandle> tree = new ArrayList<>();
    tree.add(engine);
    engine.descendants().forEach(tree::add);
    log.info(
        "stopping worker {}: SIGTERM to pid {} and {} descendant(s), SIGKILL after {}",
        workerId,
        engine.pid(),
        tree.size() - 1,
        grace);
    tree.forEach(ProcessHandle::destroy);
    List<ProcessHandle> alive = awaitExit(tree, grace);
    if (alive.isEmpty()) {
      return;
    }
    log.warn(
        "worker {}: pid(s) {} still running after the grace; sending SIGKILL",
        workerId,
        pids(alive));
    alive.forEach(ProcessHandle::destroyForcibly);
    alive = awaitExit(alive, KILL_WAIT);
    if (!alive.isEmpty()) {
      // Releasing the GPUs now would hand them to a new engine while this one may still hold them.
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT,
          "the engine of worker %s (pid(s) %s) did not exit after SIGKILL; its GPUs stay taken"
              .formatted(workerId, pids(alive)));
    }
  }

  /** Waits until all the processes are gone or the timeout passes; returns the ones still alive. */
  private static List<ProcessHandle> awaitExit(List<ProcessHandle> processes, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      for (ProcessHandle process : processes) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          break;
        }
        process.onExit().get(left, TimeUnit.NANOSECONDS);
      }
    } catch (TimeoutException | ExecutionException e) {
      // whoever is still alive is reported below
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return processes.stream().filter(ProcessHandle::isAlive).toList();
  }

  private static String pids(List<ProcessHandle> processes) {
    return processes.stream().map(p -> Long.toString(p.pid())).collect(Collectors.joining(","));
  }

  @Override
  public List<String> knownWorkers() {
    if (!Files.isDirectory(pidDir)) {
      return List.of();
    }
    List<String> ids = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(pidDir, "*.json")) {
      for (Path file : files) {
        String name = file.getFileName().toString();
        String id = name.substring(0, name.length() - ".json".length());
        if (WORKER_ID.matcher(id).matches()) {
          ids.add(id);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + pidDir, e);
    }
    ids.sort(null);
    return List.copyOf(ids);
  }

  /**
   * The last lines of the worker's log, continuing into the rotated file when the current one was
   * just truncated.
   */
  @Override
  public String logTail(String workerId, int lines) {
    checkWorkerId(workerId);
    try {
      return String.join("\n", logs.tail(workerId, lines, LOG_TAIL_BYTES));
    } catch (IOException e) {
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT, "cannot read the log of worker " + workerId + ": " + e, e);
    }
  }

  /**
   * Follows the worker's log file (see {@link LogFollower}); the follow ends once no engine of the
   * worker runs and the file's last bytes were read.
   */
  @Override
  public LogFollow followLog(String workerId, int tailLines, LogFollow.Listener listener) {
    checkWorkerId(workerId);
    Path file = logs.fileOf(workerId);
    long position = LogFollower.sizeOf(file);
    List<String> tail;
    try {
      tail = logs.tail(workerId, tailLines, LOG_TAIL_BYTES, position);
    } catch (IOException e) {
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT, "cannot read the log of worker " + workerId + ": " + e, e);
    }
    return LogFollower.start(
        file,
        tail,
        position,
        () -> find(workerId).isPresent(),
        listener,
        LOG_FOLLOW_POLL,
        activeLogFollows);
  }

  /** Follows of worker logs whose reading thread is still alive. */
  public int activeLogFollows() {
    return activeLogFollows.get();
  }

  /**
   * Rotates the logs of running workers that outgrew {@code log-max-bytes}; see {@link
   * WorkerLogs#rotate}.
   */
  public void rotateLogs() {
    logs.rotate(knownWorkers());
  }

  // ---------------------------------------------------------------- files

  private Path pidFile(String workerId) {
    return pidDir.resolve(workerId + ".json");
  }

  private Optional<PidFile> readPidFile(String workerId) {
    Path file = pidFile(workerId);
    try {
      return Optional.of(JSON.readValue(Files.readAllBytes(file), PidFile.class));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      log.warn("ignoring the unreadable pid file {}: {}", file, e.toString());
      return Optional.empty();
    }
  }

  /** Writes to a temporary file and renames it, so a crash never leaves half a record. */
  private void writePidFile(PidFile record) throws IOException {
    Path target = pidFile(record.workerId());
    Path tmp = Files.createTempFile(pidDir, "." + record.workerId(), ".tmp");
    try {
      Files.write(tmp, JSON.writeValueAsBytes(record));
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  // ---------------------------------------------------------------- helpers

  /** Runs the action under the worker's lock; drops the lock once the worker has no pid file. */
  private <T> T locked(String workerId, Supplier<T> action) {
    while (true) {
      ReentrantLock lock = locks.computeIfAbsent(workerId, id -> new ReentrantLock());
      lock.lock();
      try {
        if (locks.get(workerId) != lock) {
          continue; // the previous holder retired this lock; take the current one
        }
        try {
          return action.get();
        } finally {
          if (!Files.exists(pidFile(workerId))) {
            locks.remove(workerId, lock);
          }
        }
      } finally {
        lock.unlock();
      }
    }
  }

  private static String checkWorkerId(String workerId) {
    if (workerId == null || !WORKER_ID.matcher(workerId).matches()) {
      throw new IllegalArgumentException("not a worker id: " + workerId);
    }
    return workerId;
  }

  private Path workingDir(WorkerLaunchRequest request) {
    Path storage = request.storageDir();
    return storage != null && Files.isDirectory(storage) ? storage : dataDir;
  }

  /**
   * A port that was free a moment ago. Another process can take it before the engine binds it; the
   * engine then exits, and the workflow's retry starts it on another port.
   */
  private static int freePort() {
    try (ServerSocket socket =
        new ServerSocket(0, 1, InetAddress.getByName(EngineLaunchSpecs.HOST))) {
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT, "no free TCP port on " + EngineLaunchSpecs.HOST + ": " + e, e);
    }
  }

  /** The engine gets no input: an engine that reads stdin sees end-of-file at once. */
  private static void closeStdin(Process process) {
    try {
      process.getOutputStream().close();
    } catch (IOException e) {
      log.debug("closing the stdin of pid {} failed", process.pid(), e);
    }
  }

  /** The request as the engine sees it: without the variables that were left out. */
  private static WorkerLaunchRequest withEnvNames(
      WorkerLaunchRequest request, Set<String> dropped) {
    Map<String, String> kept = new HashMap<>(request.env());
    kept.keySet().removeAll(dropped);
    return new WorkerLaunchRequest(
        request.deploymentId(),
        request.workerId(),
        request.framework(),
        request.model(),
        request.storageDir(),
        kept,
        request.frameworkArgs(),
        request.gpu(),
        request.concurrency());
  }

  private WorkerRuntimeException notFound(Framework framework, String binary) {
    String where =
        binary.contains("/")
            ? "does not exist"
            : "was not found on the engines' PATH (%s, gantry.runtime.local.containment.engine-path)"
                .formatted(enginePath);
    return new WorkerRuntimeException(
        FailureType.ENGINE_NOT_FOUND,
        "engine binary '%s' %s; %s".formatted(binary, where, installHint(framework)));
  }

  private static WorkerRuntimeException startFailure(
      Framework framework, String binary, IOException e) {
    String detail = String.valueOf(e.getMessage());
    Matcher errno = EXEC_ERRNO.matcher(detail);
    int code = errno.find() ? Integer.parseInt(errno.group(1)) : 0;
    if (code == ENOENT) {
      String where = binary.contains("/") ? "does not exist" : "was not found on this host's PATH";
      return new WorkerRuntimeException(
          FailureType.ENGINE_NOT_FOUND,
          "engine binary '%s' %s; %s".formatted(binary, where, installHint(framework)),
          e);
    }
    if (code == EACCES) {
      return new WorkerRuntimeException(
          FailureType.ENGINE_NOT_FOUND,
          "engine binary '%s' is not executable by the user Gantry runs as; %s"
              .formatted(binary, installHint(framework)),
          e);
    }
    return new WorkerRuntimeException(
        FailureType.TRANSIENT,
        "engine binary '%s' could not be started: %s".formatted(binary, detail),
        e);
  }

  private static String installHint(Framework framework) {
    return switch (framework) {
      case VLLM -> "install vLLM or use another framework";
      case SGLANG -> "install Python 3 with SGLang or use another framework";
      case OLLAMA -> "install Ollama or use another framework";
      case SIM -> "check gantry.runtime.local.sim-command";
    };
  }

  private static String describe(Allocation allocation) {
    if (allocation.isVirtual()) {
      return "virtual slot " + allocation.indices().getFirst();
    }
    return "%d × %s (devices %s)"
        .formatted(
            allocation.count(),
            allocation.gpuType(),
            allocation.indices().stream().map(String::valueOf).collect(Collectors.joining(",")));
  }

  @Override
  public void reclaimStorage(String deploymentId, Path storageDir) {
    try {
      sandbox.reclaim(deploymentId, storageDir);
    } catch (IOException e) {
      throw new WorkerRuntimeException(
          FailureType.TRANSIENT, "cannot take back the storage of " + deploymentId + ": " + e, e);
    }
  }

  @Override
  public void removeLogs(String deploymentId) {
    try {
      logs.removeDeployment(deploymentId);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the worker logs of " + deploymentId, e);
    }
  }
}
