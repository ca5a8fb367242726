package dev.gantry.infra.runtime;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Where workers' engines run. The {@code local} adapter starts child processes on this host; a
 * Kubernetes adapter would create pods. Every method is idempotent per worker id, because
 * activities that call it are retried.
 */
public interface WorkerRuntime {

  /**
   * Takes GPUs for the worker and starts its engine. Calling it again for a worker whose engine is
   * still running returns that engine instead of starting a second one.
   *
   * @throws WorkerRuntimeException {@code NO_GPU_CAPACITY} when no GPU of the type or its fallbacks
   *     is free, {@code ENGINE_NOT_FOUND} when the engine's binary is missing
   */
  RunningWorker start(WorkerLaunchRequest request);

  /** The worker's engine if it is still running, including one started before a restart. */
  Optional<RunningWorker> find(String workerId);

  /** One health probe of the engine's health path; false on any error or non-2xx answer. */
  boolean probe(RunningWorker worker);

  /**
   * One health probe that gives up after {@code timeout}: a hung engine (stopped, deadlocked)
   * accepts the connection and never answers.
   */
  boolean probe(RunningWorker worker, Duration timeout);

  /** Requests the engine is running or queuing, from its metrics; empty when it has none. */
  Optional<Integer> inFlight(RunningWorker worker);

  /**
   * Completes when the worker's engine exits, with its exit code and the end of its log. Completes
   * at once when the engine is not running.
   */
  CompletableFuture<EngineExit> onExit(String workerId);

  /**
   * Stops the engine and everything it spawned: SIGTERM, then SIGKILL after {@code grace}; waits
   * for the exit, releases the GPUs and forgets the worker. A worker that is not running is a
   * no-op.
   */
  void stop(String workerId, Duration grace);

  /** Workers this runtime has records of (running or not), e.g. to sweep orphans. */
  List<String> knownWorkers();

  /** The last {@code lines} lines of the worker's engine log. */
  String logTail(String workerId, int lines);

  /**
   * Follows the worker's engine log: delivers its last {@code tailLines} lines, then each new line
   * as the engine writes it (each cut to {@link LogFollow#MAX_LINE_BYTES}), and ends when the
   * engine has stopped (at once when it is not running). Lines are delivered on a thread of the
   * runtime's; the caller closes the follow when it no longer wants lines.
   *
   * <p>The default delivers the tail and ends, for runtimes that cannot follow.
   */
  default LogFollow followLog(String workerId, int tailLines, LogFollow.Listener listener) {
    String tail = logTail(workerId, tailLines);
    if (!tail.isEmpty()) {
      tail.lines().forEach(listener::line);
    }
    listener.end();
    return () -> {};
  }

  /** Removes the logs of a deployment's workers, once the deployment is gone. */
  void removeLogs(String deploymentId);

  /**
   * Takes the deployment's storage back from its engines before it is removed: whatever still runs
   * with the engines' identity (a process that left the engine's tree) is stopped, so that nothing
   * can swap files under the removal. A no-op where engines do not own their storage.
   */
  default void reclaimStorage(String deploymentId, Path storageDir) {}

  /**
   * Whether a graceful stop of the platform stops the engines too. True for engines that are this
   * host's processes; false where they run on their own (Pods), which other orchestrator replicas,
   * or this one after a restart, keep serving and re-adopt.
   */
  default boolean enginesStopWithPlatform() {
    return true;
  }
}
