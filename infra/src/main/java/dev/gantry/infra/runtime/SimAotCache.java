package dev.gantry.infra.runtime;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ahead-of-time cache ({@code -XX:AOTCache}, JDK 25 and later) that {@code sim} workers start
 * from: the simulator's classes loaded and linked once, by a training run ({@code
 * dev.gantry.sim.SimTraining} under {@code -XX:AOTCacheOutput}), instead of at every boot. On a
 * small host a burst starts several workers at once and their boots compete for the same cores; the
 * cache halves the CPU each costs (docs/benchmarks.md "Cold start"). It is the simulator's part of
 * what a platform does for real engines when it keeps their compile caches between starts.
 *
 * <p>The cache lies beside the simulator's jar ({@link SimJar}), named after the JVM and the JVM
 * options it was built for, since a JVM refuses a cache built by another or with other options. It
 * is built in the background the first time a worker asks for it; workers that start meanwhile, and
 * every worker if the training fails, start as they did without it. The training runs the
 * platform's own simulator on a loopback port with an empty environment: nothing of a tenant's
 * reaches it. It is stopped, with the JVM it forks, when Gantry stops.
 */
final class SimAotCache implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SimAotCache.class);

  /** The first JDK with a one-step {@code -XX:AOTCacheOutput} (JEP 514). */
  static final int FIRST_FEATURE = 25;

  static final String TRAINING_MAIN_CLASS = "dev.gantry.sim.SimTraining";

  private enum State {
    MISSING,
    BUILDING,
    READY,
    FAILED
  }

  private final Path cache;
  private final List<String> trainingCommand;
  private final Duration trainingTimeout;
  private final AtomicReference<State> state = new AtomicReference<>(State.MISSING);
  private final AtomicReference<Process> training = new AtomicReference<>();
  private volatile boolean closed;
  private volatile Thread builder;

  /**
   * @param directory where the cache is kept (beside the simulator's jar)
   * @param classPath the simulator's class path: jars only, as the JVM caches classes from jars
   * @param javaBinary the JVM that runs workers
   * @param jvmOptions the workers' JVM options (native access included), {@link #compatible}
   * @param jvmIdentity what tells one JVM build from another ({@link #currentJvm()})
   * @param trainingTimeout longest a training run may take before it is given up
   */
  SimAotCache(
      Path directory,
      String classPath,
      String javaBinary,
      List<String> jvmOptions,
      String jvmIdentity,
      Duration trainingTimeout) {
    this.cache = directory.resolve("aot-" + fingerprint(jvmIdentity, jvmOptions) + ".aot");
    List<String> command = new ArrayList<>();
    command.add(javaBinary);
    command.addAll(jvmOptions);
    command.add("-XX:AOTCacheOutput=" + staging());
    command.addAll(List.of("-cp", classPath, TRAINING_MAIN_CLASS));
    this.trainingCommand = List.copyOf(command);
    this.trainingTimeout = trainingTimeout;
    if (Files.isRegularFile(cache)) {
      state.set(State.READY);
    }
  }

  /** Whether this JVM can build and use such a cache. */
  static boolean supported() {
    return Runtime.version().feature() >= FIRST_FEATURE;
  }

  /**
   * The workers' JVM options as a cache must be built and used with them: the JVM refuses {@code
   * -XX:AOTCache} next to any class-data-sharing option, so {@code -Xshare:auto} (the default
   * anyway) is dropped; empty when the options configure class-data sharing of their own, which
   * then stays as configured.
   */
  static Optional<List<String>> compatible(List<String> jvmOptions) {
    List<String> kept = new ArrayList<>(jvmOptions.size());
    for (String option : jvmOptions) {
      if (option.equals("-Xshare:auto")) {
        continue;
      }
      if (option.startsWith("-Xshare")
          || CDS_OPTIONS.stream().anyMatch(cds -> option.startsWith(cds))) {
        return Optional.empty();
      }
      kept.add(option);
    }
    return Optional.of(List.copyOf(kept));
  }

  private static final List<String> CDS_OPTIONS =
      List.of(
          "-XX:SharedArchiveFile",
          "-XX:SharedClassListFile",
          "-XX:DumpLoadedClassList",
          "-XX:ArchiveClassesAtExit",
          "-XX:+AutoCreateSharedArchive",
          "-XX:AOT");

  /** This JVM, as far as a cache built by it is concerned. */
  static String currentJvm() {
    return String.join(
        "|",
        System.getProperty("java.vm.vendor", ""),
        System.getProperty("java.vm.version", ""),
        System.getProperty("java.home", ""));
  }

  /**
   * The JVM options a worker starts with to use the cache: none until it is built, and the training
   * starts in the background on the first call that finds it missing.
   */
  List<String> options() {
    State now = state.get();
    if (now == State.READY) {
      return List.of("-XX:AOTCache=" + cache);
    }
    if (now == State.MISSING && !closed && state.compareAndSet(State.MISSING, State.BUILDING)) {
      builder = Thread.ofVirtual().name("sim-aot-training").start(this::build);
    }
    return List.of();
  }

  /** Whether a training run is under way. */
  boolean building() {
    return state.get() == State.BUILDING;
  }

  /** Where the cache is, once built. */
  Path path() {
    return cache;
  }

  private Path staging() {
    return cache.resolveSibling(cache.getFileName() + ".building");
  }

  /** The files a training writes besides the cache: the JVM's own configuration file too. */
  private List<Path> trainingFiles() {
    return List.of(staging(), staging().resolveSibling(staging().getFileName() + ".config"));
  }

  private void removeTrainingFiles() {
    for (Path file : trainingFiles()) {
      try {
        Files.deleteIfExists(file);
      } catch (IOException e) {
        log.debug("Could not remove {}: {}", file, e.toString());
      }
    }
  }

  private void build() {
    Path output = cache.resolveSibling(cache.getFileName() + ".training.log");
    long started = System.nanoTime();
    try {
      // What a training cut short (Gantry killed meanwhile) may have left.
      removeTrainingFiles();
      var pb = new ProcessBuilder(trainingCommand);
      // Nothing of the platform's environment (keys, tokens) reaches the training.
      pb.environment().clear();
      pb.redirectErrorStream(true);
      pb.redirectOutput(output.toFile());
      Process process = pb.start();
      training.set(process);
      if (closed) {
        stop(process);
        return;
      }
      boolean exited = process.waitFor(trainingTimeout.toMillis(), TimeUnit.MILLISECONDS);
      if (!exited) {
        stop(process);
        fail("the training run took longer than " + trainingTimeout, output);
        return;
      }
      if (process.exitValue() != 0 || !Files.isRegularFile(staging())) {
        fail("the training run exited with " + process.exitValue(), output);
        return;
      }
      Files.setPosixFilePermissions(staging(), PosixFilePermissions.fromString("rw-r--r--"));
      try {
        Files.move(staging(), cache, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(staging(), cache, StandardCopyOption.REPLACE_EXISTING);
      }
      state.set(State.READY);
      log.info(
          "sim workers start from an ahead-of-time cache from now on ({}, built in {} ms)",
          cache,
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
      Files.deleteIfExists(output);
    } catch (IOException | UnsupportedOperationException e) {
      fail(e.toString(), output);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      fail("interrupted", output);
    } finally {
      training.set(null);
      removeTrainingFiles();
    }
  }

  private void fail(String why, Path output) {
    state.set(State.FAILED);
    if (closed) {
      // Stopped with Gantry, not failed: the next start trains again.
      try {
        Files.deleteIfExists(output);
      } catch (IOException e) {
        log.debug("Could not remove {}: {}", output, e.toString());
      }
      return;
    }
    String tail = "";
    try {
      List<String> lines = Files.readAllLines(output, StandardCharsets.UTF_8);
      tail = String.join(" | ", lines.subList(Math.max(0, lines.size() - 5), lines.size()));
    } catch (IOException e) {
      // no output to show
    }
    log.warn(
        "sim workers start without an ahead-of-time cache: {}{}",
        why,
        tail.isEmpty() ? "" : " (" + tail + ")");
  }

  /**
   * Stops a training run that is under way, and the JVM it forked to write the cache, and waits
   * until its files are cleaned up.
   */
  @Override
  public void close() {
    closed = true;
    Optional.ofNullable(training.get()).ifPresent(SimAotCache::stop);
    Thread thread = builder;
    if (thread != null) {
      try {
        thread.join(Duration.ofSeconds(15));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Kills the training and the JVM it forked, and waits until both are gone (they write files). */
  private static void stop(Process process) {
    List<ProcessHandle> forked = process.descendants().toList();
    forked.forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
      for (ProcessHandle child : forked) {
        child.onExit().get(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.warn("A training of the sim cache did not exit when killed: {}", e.toString());
    }
  }

  private static String fingerprint(String jvmIdentity, List<String> jvmOptions) {
    var crc = new CRC32();
    crc.update(
        (jvmIdentity + "\n" + String.join("\n", jvmOptions)).getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().toHexDigits((int) crc.getValue());
  }
}
