package dev.gantry.gateway.jobs;

import dev.gantry.api.TaskQueues;
import dev.gantry.gateway.web.ConditionalOnGatewayRole;
import dev.gantry.infra.config.GantryProperties;
import io.temporal.client.WorkflowClient;
import io.temporal.worker.WorkerFactory;
import io.temporal.worker.WorkerOptions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * Polls {@code gantry-jobs} for job executions on this gateway, whatever other roles the process
 * has: a job must go through the admission queue of a gateway. Each execution runs on a virtual
 * thread, as it mostly waits.
 */
@ConditionalOnGatewayRole
@Component
public class JobWorker implements SmartLifecycle {
  private static final Logger log = LoggerFactory.getLogger(JobWorker.class);

  static final Duration HEARTBEAT_THROTTLE = Duration.ofSeconds(1);

  private final WorkflowClient client;
  private final JobExecutionActivity execution;
  private final int maxRunning;
  private WorkerFactory factory;

  public JobWorker(
      WorkflowClient client, JobExecutionActivity execution, GantryProperties properties) {
    this.client = client;
    this.execution = execution;
    this.maxRunning = properties.jobs().maxRunning();
  }

  @Override
  public synchronized void start() {
    factory = WorkerFactory.newInstance(client);
    var worker =
        factory.newWorker(
            TaskQueues.JOBS,
            WorkerOptions.newBuilder()
                .setUsingVirtualThreadsOnActivityWorker(true)
                // A cancellation reaches a running job through its next heartbeat: send them
                // often, so a DELETE on another gateway aborts the engine call within seconds.
                .setDefaultHeartbeatThrottleInterval(HEARTBEAT_THROTTLE)
                .setMaxHeartbeatThrottleInterval(HEARTBEAT_THROTTLE)
                .setMaxConcurrentActivityExecutionSize(maxRunning)
                .build());
    worker.registerActivitiesImplementations(execution);
    factory.start();
    log.info("Polling {} for async jobs (up to {} at once)", TaskQueues.JOBS, maxRunning);
  }

  @Override
  public synchronized void stop() {
    if (factory != null) {
      factory.shutdown();
      factory.awaitTermination(10, TimeUnit.SECONDS);
      factory = null;
    }
  }

  @Override
  public synchronized boolean isRunning() {
    return factory != null;
  }

  /** Starts after the routing table has loaded, and stops before it. */
  @Override
  public int getPhase() {
    return SmartLifecycle.DEFAULT_PHASE - 100;
  }
}
