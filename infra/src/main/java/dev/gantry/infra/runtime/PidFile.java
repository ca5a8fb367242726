package dev.gantry.infra.runtime;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.gantry.infra.gpu.GpuInventory.Allocation;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What the local runtime keeps on disk about a started engine, so that a restarted platform can
 * find it again, give it its GPUs back, and stop it without hitting a stranger that reused its pid.
 *
 * @param processStart the engine's start instant as the OS reports it (ISO-8601), the pid-reuse
 *     guard
 * @param gpuType null for a virtual slot
 * @param gpuIndices global device indices, or the virtual slot number
 */
@JsonIgnoreProperties(ignoreUnknown = true)
record PidFile(
    String workerId,
    String deploymentId,
    String framework,
    long pid,
    String processStart,
    int port,
    String endpoint,
    String gpuType,
    List<Integer> gpuIndices,
    String healthPath,
    String metricsPath,
    String logFile) {

  /**
   * How far two readings of one process's start instant may differ. Linux derives it from the boot
   * time, which {@code /proc/stat} reports to the second and which drifts by up to a second between
   * readings; a different process reusing the pid within that window is not a realistic case.
   */
  static final Duration START_TOLERANCE = Duration.ofSeconds(2);

  Allocation allocation() {
    return new Allocation(gpuType, gpuIndices == null ? List.of() : gpuIndices);
  }

  RunningWorker toRunningWorker() {
    return new RunningWorker(
        workerId,
        pid,
        port,
        endpoint,
        gpuType,
        gpuIndices == null ? 0 : gpuIndices.size(),
        healthPath,
        metricsPath,
        Path.of(logFile));
  }

  /**
   * The recorded process, if it is still alive and is the one this file describes. Never this JVM,
   * whatever the file says: the runtime must not be able to stop itself.
   */
  Optional<ProcessHandle> liveProcess() {
    return ProcessHandle.of(pid)
        .filter(h -> h.pid() != ProcessHandle.current().pid())
        .filter(ProcessHandle::isAlive)
        .filter(this::isSameProcess);
  }

  private boolean isSameProcess(ProcessHandle handle) {
    Optional<Instant> actual = handle.info().startInstant();
    if (processStart == null || actual.isEmpty()) {
      // Without a start instant the pid alone proves nothing; never claim (or kill) the process.
      return false;
    }
    Duration drift = Duration.between(Instant.parse(processStart), actual.get()).abs();
    return drift.compareTo(START_TOLERANCE) <= 0;
  }
}
