package dev.gantry.app;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;
import org.springframework.stereotype.Component;

/**
 * The backstop that keeps a stopping platform's exit bounded. Every step of a graceful stop has its
 * own limit (the inference drain, the web server, engines stopped in parallel with a short grace),
 * but they add up, and a step that hangs (a Temporal call, a stuck engine) would hold the process
 * past what supervisors wait before they SIGKILL it, orphaning its engines. So when the stop
 * begins, a timer starts; if the process is still here at {@link #DEADLINE}, every engine it runs
 * is killed and the JVM halts.
 */
@Component
class ShutdownDeadline implements SmartLifecycle {
  /** Short of the 30 seconds a platform may take to exit after SIGTERM. */
  static final Duration DEADLINE = Duration.ofSeconds(25);

  private static final Logger log = LoggerFactory.getLogger(ShutdownDeadline.class);

  private volatile boolean running;

  @Override
  public void start() {
    running = true;
  }

  @Override
  public void stop() {
    running = false;
    Thread.ofPlatform().daemon().name("gantry-shutdown-deadline").start(ShutdownDeadline::watch);
  }

  private static void watch() {
    try {
      TimeUnit.NANOSECONDS.sleep(DEADLINE.toNanos());
    } catch (InterruptedException e) {
      return;
    }
    List<ProcessHandle> left = ProcessHandle.current().descendants().toList();
    log.error(
        "Gantry did not stop within {}; killing {} engine process(es) and exiting",
        DEADLINE,
        left.size());
    left.forEach(ProcessHandle::destroyForcibly);
    Runtime.getRuntime().halt(1);
  }

  @Override
  public boolean isRunning() {
    return running;
  }

  /** Stops first, so its timer covers every other step of the stop. */
  @Override
  public int getPhase() {
    return Integer.MAX_VALUE;
  }
}
