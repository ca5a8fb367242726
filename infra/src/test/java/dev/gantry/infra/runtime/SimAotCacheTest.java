package dev.gantry.infra.runtime;

import static java.util.stream.Collectors.joining;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Builds real ahead-of-time caches of the simulator with this JVM (JDK 25 and later). */
class SimAotCacheTest {
  private static final List<String> OPTIONS =
      List.of("-XX:+UseSerialGC", "-Xmx192m", "-XX:TieredStopAtLevel=1");

  @TempDir Path dir;

  private String java;
  private String classPath;

  @BeforeEach
  void jdkAndSimulatorJars() {
    assumeTrue(SimAotCache.supported(), "needs JDK " + SimAotCache.FIRST_FEATURE);
    java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    // The JVM caches classes from jars only: the simulator's jar and its dependencies.
    List<String> jars =
        Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
            .filter(e -> e.endsWith(".jar"))
            .toList();
    assumeTrue(
        jars.stream().anyMatch(j -> Path.of(j).getFileName().toString().startsWith("engine-sim")),
        "the simulator must be on the class path as a jar (run through Maven's verify)");
    classPath = String.join(File.pathSeparator, jars);
  }

  private SimAotCache cache(List<String> options) {
    return new SimAotCache(
        dir, classPath, java, options, SimAotCache.currentJvm(), Duration.ofMinutes(2));
  }

  @Test
  void trainsOnceInTheBackgroundThenWorkersStartFromAUsableCache() throws Exception {
    try (SimAotCache cache = cache(OPTIONS)) {
      assertThat(cache.options()).as("nothing to start from while it trains").isEmpty();
      assertThat(cache.building()).isTrue();

      await().atMost(Duration.ofMinutes(2)).until(() -> !cache.building());

      assertThat(cache.options()).containsExactly("-XX:AOTCache=" + cache.path());
      assertThat(Files.getPosixFilePermissions(cache.path()))
          .isEqualTo(PosixFilePermissions.fromString("rw-r--r--"));
      try (var files = Files.list(dir)) {
        assertThat(files.map(p -> p.getFileName().toString()))
            .as("no staging file or training log is left")
            .containsExactly(cache.path().getFileName().toString());
      }
      // AOTMode=on refuses to start unless the cache can be used with these options.
      List<String> command = new ArrayList<>(List.of(java));
      command.addAll(cache.options());
      command.add("-XX:AOTMode=on");
      command.addAll(OPTIONS);
      command.addAll(List.of("-cp", classPath, EngineLaunchSpecs.SIM_MAIN_CLASS, "--help"));
      Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
      String output = new String(process.getInputStream().readAllBytes());
      assertThat(process.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(process.exitValue()).as(output).isZero();
      assertThat(output).contains("Usage: sim");
    }
  }

  @Test
  void aCacheBuiltBeforeIsUsedAtOnceAndOnlyForTheSameOptions() throws Exception {
    Path built;
    try (SimAotCache first = cache(OPTIONS)) {
      first.options();
      await().atMost(Duration.ofMinutes(2)).until(() -> !first.building());
      built = first.path();
      assertThat(built).isRegularFile();
    }

    try (SimAotCache again = cache(OPTIONS)) {
      assertThat(again.options()).containsExactly("-XX:AOTCache=" + built);
      assertThat(again.building()).isFalse();
    }
    List<String> other = new ArrayList<>(OPTIONS);
    other.set(1, "-Xmx256m");
    try (SimAotCache otherOptions = cache(other)) {
      assertThat(otherOptions.path()).isNotEqualTo(built);
      assertThat(otherOptions.options()).isEmpty();
    }
  }

  @Test
  void aFailedTrainingLeavesWorkersStartingWithoutACacheAndIsNotRetried() throws Exception {
    List<String> broken = new ArrayList<>(OPTIONS);
    broken.add("-XX:+NoSuchGantryFlag");
    try (SimAotCache cache = cache(broken)) {
      assertThat(cache.options()).isEmpty();
      await().atMost(Duration.ofMinutes(1)).until(() -> !cache.building());

      assertThat(cache.options()).isEmpty();
      assertThat(cache.building()).as("a failure is not retried by every launch").isFalse();
      assertThat(cache.path()).doesNotExist();
      assertThat(dir.resolve(cache.path().getFileName() + ".building")).doesNotExist();
      assertThat(dir.resolve(cache.path().getFileName() + ".training.log"))
          .as("kept for whoever looks into the failure")
          .content()
          .contains("NoSuchGantryFlag");
    }
  }

  @Test
  void classDataSharingOptionsOfTheUsersOwnKeepTheCacheOff() {
    assertThat(SimAotCache.compatible(List.of("-Xmx192m", "-Xshare:auto", "-XX:+UseSerialGC")))
        .contains(List.of("-Xmx192m", "-XX:+UseSerialGC"));
    assertThat(SimAotCache.compatible(List.of("-Xshare:off"))).isEmpty();
    assertThat(SimAotCache.compatible(List.of("-XX:SharedArchiveFile=/x.jsa"))).isEmpty();
    assertThat(SimAotCache.compatible(List.of("-XX:AOTCache=/x.aot"))).isEmpty();
  }

  @Test
  void closingStopsATrainingUnderWayWithTheJvmItForks() throws Exception {
    SimAotCache cache = cache(OPTIONS);
    cache.options();
    await()
        .atMost(Duration.ofSeconds(30))
        .pollInterval(Duration.ofMillis(20))
        .until(() -> !trainingProcesses().isEmpty());

    cache.close();

    await().atMost(Duration.ofSeconds(30)).until(() -> trainingProcesses().isEmpty());
    await().atMost(Duration.ofSeconds(30)).until(() -> !cache.building());
    assertThat(cache.options()).isEmpty();
    try (var files = Files.list(dir)) {
      assertThat(files).as("no cache, staging file or log is left").isEmpty();
    }
  }

  /** This JVM's descendants that run or assemble a training (the cache writer is a child JVM). */
  private static List<ProcessHandle> trainingProcesses() {
    return ProcessHandle.current()
        .descendants()
        .filter(ProcessHandle::isAlive)
        .filter(
            p ->
                p.info()
                    .commandLine()
                    .or(() -> p.info().arguments().map(a -> Arrays.stream(a).collect(joining(" "))))
                    .orElse("")
                    .contains("AOTCacheOutput"))
        .toList();
  }
}
