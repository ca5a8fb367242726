package dev.gantry.activities.worker;

import dev.gantry.api.worker.EngineExited;
import dev.gantry.api.worker.WorkerWorkflow;
import dev.gantry.infra.runtime.WorkerRuntime;
import io.temporal.client.WorkflowClient;
import io.temporal.client.WorkflowNotFoundException;
import jakarta.annotation.PreDestroy;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

/**
 * Tells a worker's workflow when its engine exits, by signal. Watching costs a process-exit
 * callback and nothing in Temporal: no pending activity, no heartbeat, no timer. What this cannot
 * see (an engine that died while the platform was down) the sweeper finds and reports the same way.
 */
@Component
public class EngineWatcher {
  private static final Logger log = LoggerFactory.getLogger(EngineWatcher.class);

  private final WorkerRuntime runtime;
  private final ObjectProvider<WorkflowClient> client;
  private final Set<String> watched = ConcurrentHashMap.newKeySet();
  private volatile boolean shuttingDown;

  public EngineWatcher(WorkerRuntime runtime, ObjectProvider<WorkflowClient> client) {
    this.runtime = runtime;
    this.client = client;
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

  /** Signals the worker's workflow that its engine is gone; a finished workflow is ignored. */
  public void report(String workerId, EngineExited exit) {
    try {
      client
          .getObject()
          .newWorkflowStub(WorkerWorkflow.class, WorkerWorkflow.workflowIdOf(workerId))
          .engineExited(exit);
      log.info("Engine of worker {} exited: {}", workerId, firstLine(exit.reason()));
    } catch (WorkflowNotFoundException e) {
      log.debug("Engine of worker {} exited after its workflow ended", workerId);
    } catch (RuntimeException e) {
      // Temporal unreachable: the sweeper reports engines that are gone on its next pass.
      log.warn("Could not report the exit of worker {}'s engine", workerId, e);
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
  }
}
