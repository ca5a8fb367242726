package dev.gantry.activities.worker;

import dev.gantry.api.worker.EngineExited;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.infra.config.GantryProperties;
import dev.gantry.infra.runtime.RunningWorker;
import dev.gantry.infra.runtime.WorkerRuntime;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

/**
 * Tells a worker's workflow when its engine exits, by signal. Watching costs a process-exit
 * callback and nothing in Temporal: no pending activity, no heartbeat, no timer. What this cannot
 * see (an engine that died while the platform was down) the sweeper finds and reports the same way.
 *
 * <p>An engine can also stop serving without exiting (stopped by a signal, deadlocked, a GPU hang):
 * so every watched engine is probed on its health route every {@code health-check-interval}, and
 * one that fails {@code health-check-failures} probes in a row is reported to its workflow as gone,
 * which kills it, records the worker failed and has the deployment replace it. Probes run here, on
 * the host of the engine, not as workflow timers or activities: they cost Temporal nothing.
 */
@Component
public class EngineWatcher {
  private static final Logger log = LoggerFactory.getLogger(EngineWatcher.class);

  private final WorkerRuntime runtime;
  private final ObjectProvider<WorkflowClient> client;
  private final GantryProperties.Local settings;
  private final Set<String> watched = ConcurrentHashMap.newKeySet();

  /** Failed probes in a row, per watched worker. */
  private final Map<String, Integer> failures = new ConcurrentHashMap<>();

  /** Workers with a probe under way: a hung engine never gets two at once. */
  private final Set<String> probing = ConcurrentHashMap.newKeySet();

  /** Workers already reported hung: reported once, the workflow does the rest. */
  private final Set<String> reportedHung = ConcurrentHashMap.newKeySet();

  private final ScheduledExecutorService prober =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("gantry-engine-probes").factory());

  private volatile boolean shuttingDown;

  public EngineWatcher(
      WorkerRuntime runtime, ObjectProvider<WorkflowClient> client, GantryProperties properties) {
    this.runtime = runtime;
    this.client = client;
    this.settings = properties.runtime().local();
  }

  @PostConstruct
  void startProbing() {
    long every = settings.healthCheckInterval().toMillis();
    prober.scheduleWithFixedDelay(
        () -> {
          try {
            probeAll();
          } catch (RuntimeException e) {
            // an escaping exception would cancel the schedule for good
            log.warn("Engine health probes failed", e);
          }
        },
        every,
        every,
        TimeUnit.MILLISECONDS);
  }

  /** Starts watching the worker's engine; watching one already watched is a no-op. */
  public void watch(String workerId) {
    if (!watched.add(workerId)) {
      return;
    }
    runtime
        .onExit(workerId)
        .whenComplete(
            (exit, error) -> {
              watched.remove(workerId);
              failures.remove(workerId);
              reportedHung.remove(workerId);
              if (shuttingDown) {
                // The platform is stopping its own engines; that is no engine failure.
                return;
              }
              report(
                  workerId,
                  error != null
                      ? new EngineExited(-1, "the engine could not be watched: " + error)
                      : new EngineExited(exit.exitCode(), exit.reason()));
            });
  }

  /** One probe of every watched engine, each on its own virtual thread. */
  void probeAll() {
    for (String workerId : watched) {
      if (!shuttingDown && !reportedHung.contains(workerId) && probing.add(workerId)) {
        Thread.ofVirtual()
            .name("gantry-engine-probe")
            .start(
                () -> {
                  try {
                    probe(workerId);
                  } catch (RuntimeException e) {
                    log.warn("Health probe of worker {} failed to run", workerId, e);
                  } finally {
                    probing.remove(workerId);
                  }
                });
      }
    }
  }

  private void probe(String workerId) {
    Optional<RunningWorker> running = runtime.find(workerId);
    if (running.isEmpty()) {
      // Exited: the exit callback reports it.
      return;
    }
    Duration timeout = settings.healthCheckTimeout();
    if (runtime.probe(running.get(), timeout)) {
      failures.remove(workerId);
      return;
    }
    int failed = failures.merge(workerId, 1, Integer::sum);
    int threshold = settings.healthCheckFailures();
    log.warn("Worker {} failed a health probe ({} of {})", workerId, failed, threshold);
    if (failed < threshold || !watched.contains(workerId) || !reportedHung.add(workerId)) {
      return;
    }
    boolean told =
        signal(
            workerId,
            new EngineExited(
                -1,
                "engine stopped answering health checks (%d in a row failed, timeout %d ms each); it was killed"
                    .formatted(threshold, timeout.toMillis())));
    if (!told) {
      // Temporal unreachable: the next probes try again.
      reportedHung.remove(workerId);
    }
  }

  /** Signals the worker's workflow that its engine is gone; a finished workflow is ignored. */
  public void report(String workerId, EngineExited exit) {
    signal(workerId, exit);
  }

  /** Whether the workflow was told (or is gone, so there is nobody left to tell). */
  private boolean signal(String workerId, EngineExited exit) {
    try {
      client
          .getObject()
          .newWorkflowStub(WorkerWorkflow.class, WorkerWorkflow.workflowIdOf(workerId))
          .engineExited(exit);
      log.info("Engine of worker {} exited: {}", workerId, firstLine(exit.reason()));
      return true;
    } catch (WorkflowNotFoundException e) {
      log.debug("Engine of worker {} exited after its workflow ended", workerId);
      return true;
    } catch (RuntimeException e) {
      // Temporal unreachable: the sweeper reports engines that are gone on its next pass.
      log.warn("Could not report the exit of worker {}'s engine", workerId, e);
      return false;
    }
  }

  private static String firstLine(String text) {
    int nl = text.indexOf('\n');
    return nl < 0 ? text : text.substring(0, nl);
  }

  /** From now on engine exits are the platform's own doing (it is shutting down): not reported. */
  @PreDestroy
  public void stopReporting() {
    shuttingDown = true;
    prober.shutdownNow();
  }
}
